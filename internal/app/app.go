package app

import (
	"cmp"
	"context"
	"fmt"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/awsauth"
	"github.com/rampdev/ramp/internal/analysis/cloudwatch"
	"github.com/rampdev/ramp/internal/analysis/datadog"
	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/graphite"
	"github.com/rampdev/ramp/internal/analysis/influxdb"
	"github.com/rampdev/ramp/internal/analysis/job"
	"github.com/rampdev/ramp/internal/analysis/kayenta"
	"github.com/rampdev/ramp/internal/analysis/newrelic"
	"github.com/rampdev/ramp/internal/analysis/prometheus"
	"github.com/rampdev/ramp/internal/analysis/skywalking"
	"github.com/rampdev/ramp/internal/analysis/wavefront"
	"github.com/rampdev/ramp/internal/analysis/web"
	"github.com/rampdev/ramp/internal/controller/analysisrun"
	"github.com/rampdev/ramp/internal/controller/experiment"
	"github.com/rampdev/ramp/internal/controller/rollout"
	"github.com/rampdev/ramp/internal/metrics"
	"github.com/rampdev/ramp/internal/notify"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/alb"
	"github.com/rampdev/ramp/internal/trafficrouting/builtin"
	"github.com/rampdev/ramp/internal/version"
)

// Options configure the controller.
type Options struct {
	// Namespace restricts the controller to one namespace; empty means all.
	Namespace string
	// InstanceID makes the controller handle only objects labelled
	// ramp.dev/controller-instance-id with this value; empty means only
	// objects without the label.
	InstanceID string
	// MetricsAddr serves Prometheus metrics; "0" turns them off.
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz; "0" turns them off.
	ProbeAddr string
	// PprofAddr serves Go's profiles (/debug/pprof); empty or "0" is off.
	PprofAddr string
	// LeaderElect runs leader election, so that only one replica acts.
	LeaderElect bool
	// LeaderElectionNamespace holds the Lease; defaults to the in-cluster
	// namespace.
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod time the leader election
	// (zero: controller-runtime's 15s, 10s and 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Clock tells reconcilers the time; defaults to the real clock.
	Clock clock.PassiveClock
	// Routers builds canary traffic routers; nil means the built-in ones.
	Routers trafficrouting.Factory
	// Providers takes AnalysisRun measurements; nil means the built-in
	// providers.
	Providers *analysis.Registry
	// IstioAPIVersion is the networking.istio.io version the Istio router
	// uses (istio.APIVersions; "" is v1).
	IstioAPIVersion string
	// TraefikAPIVersion is the group/version of TraefikService the Traefik
	// router uses (traefik.APIVersions; "" is traefik.io/v1alpha1).
	TraefikAPIVersion string
	// AmbassadorAPIVersion is the group/version of Mapping the Ambassador
	// router uses (ambassador.APIVersions; "" is getambassador.io/v2).
	AmbassadorAPIVersion string
	// ALBIngressClasses are the Ingress classes the ALB router serves;
	// empty means "alb".
	ALBIngressClasses []string
	// AWS configures the calls Ramp makes to AWS.
	AWS AWSOptions
	// WithoutAnalysisRuns leaves the AnalysisRun controller out: tests of
	// the Rollout controller set the runs' phases themselves.
	WithoutAnalysisRuns bool
	// SkipControllerNameValidation allows more than one manager per process
	// (tests that restart the controller).
	SkipControllerNameValidation bool

	// QPS and Burst limit the controller's requests to the API server on
	// the client side (--qps, --burst); zero means DefaultQPS, which
	// leaves the limiting to the API server's Priority and Fairness.
	QPS   float32
	Burst int
	// APITimeout bounds one API request, watches excepted
	// (--kube-api-timeout); zero means DefaultAPITimeout, negative none.
	APITimeout time.Duration
	// RolloutWorkers and AnalysisWorkers are how many Rollouts and
	// AnalysisRuns are reconciled at once (--rollout-workers,
	// --analysis-workers); zero means the defaults. One object is never
	// reconciled by two workers at once.
	RolloutWorkers  int
	AnalysisWorkers int
	// MeasureWait is how long an AnalysisRun's reconcile waits for a
	// provider's answer before it leaves the call running and moves on;
	// zero means analysisrun.DefaultMeasureWait.
	MeasureWait time.Duration
	// Analysis bounds what KPI sources may cost and which AWS identities
	// templates may use.
	Analysis AnalysisOptions
	// NotificationsNamespace holds ramp-notification-configmap and
	// ramp-notification-secret (--notifications-namespace); empty is
	// Namespace when the controller serves one, else its own namespace.
	NotificationsNamespace string
	// SelfServiceNotifications reads a notification configuration in each
	// object's namespace too (--self-service-notification-enabled).
	SelfServiceNotifications bool
}

// AnalysisOptions bound what a KPI source, chosen by whoever writes an
// AnalysisTemplate, may cost the controller.
type AnalysisOptions struct {
	// MaxTimeout bounds every provider call (--analysis-max-timeout);
	// zero is fetch.DefaultMaxTimeout.
	MaxTimeout time.Duration
	// MaxResponseBytes bounds an answer read
	// (--analysis-max-response-bytes); zero is fetch.DefaultMaxBody.
	MaxResponseBytes int64
	// JobDeadline is the activeDeadlineSeconds of a measurement Job that
	// sets none (--analysis-job-deadline); zero is job.DefaultDeadline.
	JobDeadline time.Duration
	// AllowedRoleARNs and AllowedProfiles are the AWS roles and profiles a
	// sigv4 block may name (--aws-allowed-role-arns,
	// --aws-allowed-profiles); by default none: only the controller's own
	// identity.
	AllowedRoleARNs []string
	AllowedProfiles []string
	// SecretsNamespace holds the providers' Secrets a block does not ask
	// to read from its own namespace (datadog...)
	// (--analysis-secrets-namespace); empty is the controller's namespace
	// (analysis.ControllerNamespace).
	SecretsNamespace string
}

// AWSOptions configure the calls Ramp makes to AWS: with
// VerifyTargetGroup, ALB canaries wait until the load balancer applies each
// weight, and the old version is scaled down only once TargetGroupBindings
// in IP mode have registered the new pods.
type AWSOptions struct {
	// VerifyTargetGroup turns verification on (--aws-verify-target-group).
	VerifyTargetGroup bool
	// Region of the load balancers; empty means the SDK's default chain
	// ($AWS_REGION, the shared config).
	Region string
	// ResourceTagKey is the target groups' resource tag
	// (default ingress.k8s.aws/resource).
	ResourceTagKey string
	// TargetGroupBindingVersion is the elbv2.k8s.aws version to read
	// TargetGroupBindings at (default v1beta1).
	TargetGroupBindingVersion string
	// VerifyInterval is how long an answer from AWS holds and how soon an
	// unverified weight or target group is asked about again (default
	// 10s).
	VerifyInterval time.Duration
	// ELB is the ELBv2 API; nil means aws-sdk-go-v2's client with the
	// default credential chain. Tests point it at a local server.
	ELB alb.ELB
	// CloudWatch loads the configuration CloudWatch metrics are signed
	// and sent with; nil means aws-sdk-go-v2's default chain. Tests point
	// it at a local server.
	CloudWatch cloudwatch.ConfigFunc
}

// Scheme is every type the controller reads or writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// NewManager builds a manager whose caches hold only Ramp's objects, the
// ReplicaSets and pods that carry Ramp's pod-template hash label, the
// Deployments that Rollouts reference (labelled ramp.dev/workload-ref), and
// the Services they manage (labelled ramp.dev/managed), and the Jobs of
// Job metrics (labelled analysisrun.ramp.dev/uid).
func NewManager(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	owned, err := labels.NewRequirement(v1alpha1.DefaultRolloutUniqueLabelKey, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	ownedOnly := cache.ByObject{Label: labels.NewSelector().Add(*owned)}
	referenced, err := labels.NewRequirement(rollout.WorkloadRefLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	measured, err := labels.NewRequirement(job.RunUIDLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	managed := labels.SelectorFromSet(labels.Set{v1alpha1.ManagedLabelKey: "true"})
	instance, err := instanceSelector(opts.InstanceID)
	if err != nil {
		return nil, err
	}
	cacheOpts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.ReplicaSet{}:    ownedOnly,
			&corev1.Pod{}:           ownedOnly,
			&appsv1.Deployment{}:    {Label: labels.NewSelector().Add(*referenced)},
			&corev1.PodTemplate{}:   {Label: labels.NewSelector().Add(*referenced)},
			&corev1.Service{}:       {Label: managed},
			&batchv1.Job{}:          {Label: labels.NewSelector().Add(*measured)},
			&v1alpha1.Rollout{}:     {Label: instance},
			&v1alpha1.AnalysisRun{}: {Label: instance},
			&v1alpha1.Experiment{}:  {Label: instance},
		},
		// No reconciler reads managedFields: a third of a small object's
		// bytes.
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if opts.Namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{opts.Namespace: {}}
	}
	metricsAddr := opts.MetricsAddr
	if metricsAddr == "" {
		metricsAddr = "0"
	}
	probeAddr := opts.ProbeAddr
	if probeAddr == "" {
		probeAddr = "0"
	}
	mgr, err := ctrl.NewManager(ClientConfig(cfg, opts), ctrl.Options{
		Scheme:                  Scheme(),
		Cache:                   cacheOpts,
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        opts.PprofAddr,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        leaderElectionID(opts.InstanceID),
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// The process ends when the manager stops, so handing the Lease over
		// at once is safe, and the next replica takes over in seconds
		// rather than after the lease duration.
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 durationOrNil(opts.LeaseDuration),
		RenewDeadline:                 durationOrNil(opts.RenewDeadline),
		RetryPeriod:                   durationOrNil(opts.RetryPeriod),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if probeAddr != "0" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// referencedReplicaSets is a cache of the ReplicaSets that workloadRefs
// name (labelled ramp.dev/workload-ref), started with the manager: the
// manager's cache holds only Ramp's own ReplicaSets, and one cache holds
// one label selection per kind.
func referencedReplicaSets(mgr ctrl.Manager, opts Options) (cache.Cache, error) {
	referenced, err := labels.NewRequirement(rollout.WorkloadRefLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	cacheOpts := cache.Options{
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		ByObject:         map[client.Object]cache.ByObject{&appsv1.ReplicaSet{}: {Label: labels.NewSelector().Add(*referenced)}},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if opts.Namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{opts.Namespace: {}}
	}
	c, err := cache.New(mgr.GetConfig(), cacheOpts)
	if err != nil {
		return nil, fmt.Errorf("creating the cache of referenced ReplicaSets: %w", err)
	}
	return c, mgr.Add(c)
}

// instanceSelector selects the objects of one controller instance: those
// labelled with its id, or, without an id, those without the label. The
// API server filters, so other instances' objects never reach the cache.
func instanceSelector(id string) (labels.Selector, error) {
	op, values := selection.DoesNotExist, []string(nil)
	if id != "" {
		op, values = selection.Equals, []string{id}
	}
	req, err := labels.NewRequirement(v1alpha1.InstanceIDLabelKey, op, values)
	if err != nil {
		return nil, fmt.Errorf("--instance-id: %w", err)
	}
	return labels.NewSelector().Add(*req), nil
}

// durationOrNil is d, or nil (the default) for zero.
func durationOrNil(d time.Duration) *time.Duration {
	if d <= 0 {
		return nil
	}
	return &d
}

func leaderElectionID(instanceID string) string {
	if instanceID == "" {
		return "ramp-controller-lock"
	}
	return "ramp-controller-lock-" + instanceID
}

// Setup registers Ramp's reconcilers with mgr.
func Setup(mgr ctrl.Manager, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	verifier, err := awsVerifier(context.Background(), opts.AWS, clk)
	if err != nil {
		return err
	}
	referencedRSs, err := referencedReplicaSets(mgr, opts)
	if err != nil {
		return err
	}
	// The Argo-compatible metrics, when metrics are served at all.
	var m *metrics.Metrics
	if opts.MetricsAddr != "" && opts.MetricsAddr != "0" {
		m = metrics.New(metrics.Options{
			Reader:           mgr.GetCache(),
			ClusterTemplates: opts.Namespace == "",
			Clock:            clk,
			Version:          version.Version,
			Log:              mgr.GetLogger().WithName("metrics"),
		})
		if err := mgr.Add(m.Runnable(crmetrics.Registry)); err != nil {
			return err
		}
	}
	notifier := notify.New(notify.Options{
		Reader:  mgr.GetAPIReader(),
		Objects: mgr.GetClient(),
		Writer:  mgr.GetClient(),
		// A controller of one namespace reads its configuration there.
		Namespace: cmp.Or(opts.NotificationsNamespace, opts.Namespace, analysis.ControllerNamespace()),
		Clock:     clk,
		Log:       mgr.GetLogger().WithName("notifications"),
		Sent:      m.NotificationSent,

		SelfService: opts.SelfServiceNotifications,
	})
	if err := mgr.Add(notifier); err != nil {
		return err
	}
	events := notifier.Recorder(m.Recorder(mgr.GetEventRecorder("ramp-controller")))
	r := &rollout.Reconciler{
		Client:                mgr.GetClient(),
		APIReader:             mgr.GetAPIReader(),
		ReferencedReplicaSets: referencedRSs,
		Events:                events,
		Clock:                 clk,
		InstanceID:            opts.InstanceID,
		Routers:               routers(mgr, opts, verifier),
		Targets:               targets(mgr, opts, verifier),

		VerifyRetry: opts.AWS.VerifyInterval,

		Workers:            workers(opts.RolloutWorkers, DefaultRolloutWorkers),
		SkipNameValidation: opts.SkipControllerNameValidation,
		Metrics:            m,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	exps := &experiment.Reconciler{
		Client:             mgr.GetClient(),
		APIReader:          mgr.GetAPIReader(),
		Events:             events,
		Clock:              clk,
		InstanceID:         opts.InstanceID,
		Workers:            workers(opts.RolloutWorkers, DefaultRolloutWorkers),
		SkipNameValidation: opts.SkipControllerNameValidation,
		Metrics:            m,
	}
	if err := exps.SetupWithManager(mgr); err != nil {
		return err
	}
	if opts.WithoutAnalysisRuns {
		return nil
	}
	runs := &analysisrun.Reconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Events:     events,
		Clock:      clk,
		Providers:  providers(mgr, opts),
		InstanceID: opts.InstanceID,

		Workers:            workers(opts.AnalysisWorkers, DefaultAnalysisWorkers),
		MeasureWait:        opts.MeasureWait,
		MaxTimeout:         opts.Analysis.MaxTimeout,
		SkipNameValidation: opts.SkipControllerNameValidation,
		Metrics:            m,
	}
	return runs.SetupWithManager(mgr)
}

func workers(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// routers builds canary traffic routers: opts.Routers, or the built-in
// ones.
func routers(mgr ctrl.Manager, opts Options, v *alb.Verifier) trafficrouting.Factory {
	if opts.Routers != nil {
		return opts.Routers
	}
	return builtin.Factory{Reader: mgr.GetAPIReader(), Writer: mgr.GetClient(),
		ALB:          alb.Options{IngressClasses: opts.ALBIngressClasses, Verifier: v},
		IstioVersion: opts.IstioAPIVersion, TraefikVersion: opts.TraefikAPIVersion,
		AmbassadorVersion: opts.AmbassadorAPIVersion}
}

// targets checks target-group registration after a selector switch, when
// AWS verification is on.
func targets(mgr ctrl.Manager, opts Options, v *alb.Verifier) trafficrouting.TargetVerifier {
	if v == nil {
		return nil
	}
	tv := &alb.TargetVerifier{Verifier: v, Reader: mgr.GetAPIReader()}
	if opts.AWS.TargetGroupBindingVersion != "" {
		tv.GVK = alb.TargetGroupBindingGVK
		tv.GVK.Version = opts.AWS.TargetGroupBindingVersion
	}
	return tv
}

// awsVerifier is the ALB Verifier, when verification is on: its ELBv2
// client comes from opts.ELB or aws-sdk-go-v2's default configuration
// (credentials from the environment, the shared files, IRSA or the
// instance role).
func awsVerifier(ctx context.Context, opts AWSOptions, clk clock.PassiveClock) (*alb.Verifier, error) {
	if !opts.VerifyTargetGroup {
		return nil, nil
	}
	elb := opts.ELB
	if elb == nil {
		var loadOpts []func(*awsconfig.LoadOptions) error
		if opts.Region != "" {
			loadOpts = append(loadOpts, awsconfig.WithRegion(opts.Region))
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
		if err != nil {
			return nil, fmt.Errorf("--aws-verify-target-group: loading the AWS configuration: %w", err)
		}
		if cfg.Region == "" {
			return nil, fmt.Errorf("--aws-verify-target-group needs a region: pass --aws-region or set AWS_REGION")
		}
		elb = elbv2.NewFromConfig(cfg)
	}
	return &alb.Verifier{ELB: elb, ResourceTagKey: opts.ResourceTagKey, Clock: clk, Interval: opts.VerifyInterval}, nil
}

// providers is the registry of metric providers: opts.Providers, or the
// ones built in.
func providers(mgr ctrl.Manager, opts Options) *analysis.Registry {
	if opts.Providers != nil {
		return opts.Providers
	}
	a := opts.Analysis
	kpi := fetch.New(a.MaxResponseBytes, a.MaxTimeout)
	ids := &awsauth.Identities{AllowedRoles: a.AllowedRoleARNs, AllowedProfiles: a.AllowedProfiles}
	creds := analysis.Credentials{Reader: mgr.GetAPIReader(), Namespace: a.SecretsNamespace}
	if creds.Namespace == "" {
		creds.Namespace = analysis.ControllerNamespace()
	}
	return analysis.NewRegistry(
		web.Provider{HTTP: kpi},
		prometheus.Provider{HTTP: kpi, AWS: ids},
		job.Provider{Client: mgr.GetClient(), Deadline: a.JobDeadline},
		cloudwatch.New(cloudwatch.Provider{HTTP: kpi, Region: opts.AWS.Region, Config: opts.AWS.CloudWatch}),
		datadog.Provider{HTTP: kpi, Credentials: creds},
		graphite.Provider{HTTP: kpi},
		skywalking.Provider{HTTP: kpi},
		wavefront.Provider{HTTP: kpi, Credentials: creds},
		newrelic.Provider{HTTP: kpi, Credentials: creds},
		kayenta.Provider{HTTP: kpi},
		influxdb.Provider{HTTP: kpi, Credentials: creds},
	)
}

// Run runs the controller until ctx is cancelled.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	mgr, err := NewManager(cfg, opts)
	if err != nil {
		return err
	}
	if err := Setup(mgr, opts); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
