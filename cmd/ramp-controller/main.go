// Command ramp-controller is Ramp's controller: it reconciles Rollouts into
// ReplicaSets and Services and carries releases through their strategy.
// It parses flags into app.Options and calls app.Run; everything else lives
// in internal/app and internal/controller.
//
//	ramp-controller --kubeconfig ~/.kube/config --leader-elect=false
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/job"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/trafficrouting/ambassador"
	"github.com/rampdev/ramp/internal/trafficrouting/istio"
	"github.com/rampdev/ramp/internal/trafficrouting/traefik"
	"github.com/rampdev/ramp/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ramp-controller:", err)
		os.Exit(1)
	}
}

// config holds the parsed command line.
type config struct {
	opts        app.Options
	kubeconfig  string
	showVersion bool
	zap         zap.Options
}

func parse(args []string, out io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("ramp-controller", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file; default: in-cluster configuration, then $KUBECONFIG, then ~/.kube/config")
	fs.StringVar(&c.opts.Namespace, "namespace", "", "watch only this namespace (default: all namespaces)")
	fs.StringVar(&c.opts.InstanceID, "instance-id", "", "handle only objects labelled ramp.dev/controller-instance-id=ID (default: only unlabelled objects)")
	fs.StringVar(&c.opts.MetricsAddr, "metrics-bind-address", ":8090", "address of the Prometheus metrics endpoint; 0 turns it off")
	fs.StringVar(&c.opts.ProbeAddr, "health-probe-bind-address", ":8080", "address of /healthz and /readyz; 0 turns them off")
	fs.StringVar(&c.opts.PprofAddr, "pprof-bind-address", "0", "address of Go's profiles (/debug/pprof); 0 turns them off")
	fs.BoolVar(&c.opts.LeaderElect, "leader-elect", true, "run leader election so only one replica acts; false for local runs")
	fs.StringVar(&c.opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default: the controller's own namespace)")
	fs.DurationVar(&c.opts.LeaseDuration, "leader-election-lease-duration", 15*time.Second, "how long a leader's Lease holds without renewal before another replica takes over")
	fs.DurationVar(&c.opts.RenewDeadline, "leader-election-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew its Lease before it stops (the process exits)")
	fs.DurationVar(&c.opts.RetryPeriod, "leader-election-retry-period", 2*time.Second, "how often replicas try to take or renew the Lease")
	fs.Func("alb-ingress-classes", "an Ingress class the ALB router serves; repeat for several, \"\" for Ingresses without a class (default alb)", func(v string) error {
		c.opts.ALBIngressClasses = append(c.opts.ALBIngressClasses, v)
		return nil
	})
	fs.BoolVar(&c.opts.AWS.VerifyTargetGroup, "aws-verify-target-group", false, "ask AWS (ELBv2 Describe* calls) that ALB weights are applied and that TargetGroupBindings in IP mode registered the new pods before going on")
	fs.StringVar(&c.opts.AWS.Region, "aws-region", "", "AWS region for --aws-verify-target-group (default: $AWS_REGION, the shared config)")
	fs.StringVar(&c.opts.AWS.ResourceTagKey, "alb-tag-key-resource-id", "", "tag that names an Ingress's target groups (default ingress.k8s.aws/resource)")
	fs.StringVar(&c.opts.AWS.TargetGroupBindingVersion, "aws-target-group-binding-api-version", "", "elbv2.k8s.aws version of TargetGroupBinding (default v1beta1)")
	fs.StringVar(&c.opts.IstioAPIVersion, "istio-api-version", "v1", "networking.istio.io version the Istio router reads and writes: v1 (Istio 1.22+), v1beta1 or v1alpha3")
	fs.StringVar(&c.opts.TraefikAPIVersion, "traefik-api-version", traefik.DefaultAPIVersion, "group/version of TraefikService the Traefik router uses: traefik.io/v1alpha1 (Traefik 2.10+) or traefik.containo.us/v1alpha1")
	fs.StringVar(&c.opts.AmbassadorAPIVersion, "ambassador-api-version", ambassador.DefaultAPIVersion, "group/version of Mapping the Ambassador router uses: getambassador.io/v2 (what Emissary-ingress stores) or getambassador.io/v3alpha1")
	qps := fs.Float64("qps", app.DefaultQPS, "requests a second to the API server, on the client side; negative leaves the limiting to the API server's Priority and Fairness")
	fs.IntVar(&c.opts.Burst, "burst", app.DefaultBurst, "requests allowed above --qps in a burst (default 2×qps when --qps is positive)")
	fs.DurationVar(&c.opts.APITimeout, "kube-api-timeout", app.DefaultAPITimeout, "time limit of one API request (watches excepted); 0 or negative for none")
	fs.IntVar(&c.opts.RolloutWorkers, "rollout-workers", app.DefaultRolloutWorkers, "Rollouts reconciled at once")
	fs.IntVar(&c.opts.AnalysisWorkers, "analysis-workers", app.DefaultAnalysisWorkers, "AnalysisRuns reconciled at once")
	fs.DurationVar(&c.opts.Analysis.MaxTimeout, "analysis-max-timeout", fetch.DefaultMaxTimeout, "longest wait for one answer of a KPI source (OAuth2 tokens and AWS credentials included), whatever the metric's timeout")
	fs.Int64Var(&c.opts.Analysis.MaxResponseBytes, "analysis-max-response-bytes", fetch.DefaultMaxBody, "largest answer of a KPI source read; a larger one is an Error measurement")
	fs.StringVar(&c.opts.Analysis.SecretsNamespace, "analysis-secrets-namespace", "", "namespace of the metric providers' Secrets (datadog...) that a block does not ask to read from its own namespace (default: the controller's own: $POD_NAMESPACE or its service account's)")
	fs.StringVar(&c.opts.NotificationsNamespace, "notifications-namespace", "", "namespace of ramp-notification-configmap and ramp-notification-secret (default: the controller's own: $POD_NAMESPACE or its service account's)")
	fs.BoolVar(&c.opts.SelfServiceNotifications, "self-service-notification-enabled", false, "read ramp-notification-configmap and ramp-notification-secret in each rollout's namespace too, each configuration on its own (Argo Rollouts' flag)")
	fs.DurationVar(&c.opts.Analysis.JobDeadline, "analysis-job-deadline", job.DefaultDeadline, "activeDeadlineSeconds of a measurement Job that sets none")
	fs.Func("aws-allowed-role-arns", "comma-separated IAM role ARNs a metric's sigv4 roleArn may assume (default: none, only the controller's own identity)", func(v string) error {
		c.opts.Analysis.AllowedRoleARNs = append(c.opts.Analysis.AllowedRoleARNs, splitList(v)...)
		return nil
	})
	fs.Func("aws-allowed-profiles", "comma-separated AWS shared-config profiles a metric's sigv4 profile may name (default: none)", func(v string) error {
		c.opts.Analysis.AllowedProfiles = append(c.opts.Analysis.AllowedProfiles, splitList(v)...)
		return nil
	})
	fs.BoolVar(&c.showVersion, "version", false, "print the version and exit")
	c.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.opts.QPS = float32(*qps)
	if c.opts.QPS > 0 && c.opts.Burst <= 0 {
		c.opts.Burst = int(2 * c.opts.QPS)
	}
	if c.opts.APITimeout <= 0 {
		c.opts.APITimeout = -1
	}
	if !slices.Contains(istio.APIVersions, c.opts.IstioAPIVersion) {
		return nil, fmt.Errorf("--istio-api-version %q: must be one of %s", c.opts.IstioAPIVersion, strings.Join(istio.APIVersions, ", "))
	}
	if !slices.Contains(ambassador.APIVersions, c.opts.AmbassadorAPIVersion) {
		return nil, fmt.Errorf("--ambassador-api-version %q: must be one of %s", c.opts.AmbassadorAPIVersion, strings.Join(ambassador.APIVersions, ", "))
	}
	if !slices.Contains(traefik.APIVersions, c.opts.TraefikAPIVersion) {
		return nil, fmt.Errorf("--traefik-api-version %q: must be one of %s", c.opts.TraefikAPIVersion, strings.Join(traefik.APIVersions, ", "))
	}
	if c.opts.RolloutWorkers < 1 || c.opts.AnalysisWorkers < 1 {
		return nil, fmt.Errorf("--rollout-workers and --analysis-workers must be at least 1")
	}
	if a := c.opts.Analysis; a.MaxTimeout < time.Second || a.MaxResponseBytes < 1024 || a.JobDeadline < time.Second {
		return nil, fmt.Errorf("--analysis-max-timeout and --analysis-job-deadline must be at least 1s, --analysis-max-response-bytes at least 1024")
	}
	return c, nil
}

// splitList reads a comma-separated flag value, blanks left out.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func run(ctx context.Context, args []string, out io.Writer) error {
	c, err := parse(args, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ramp-controller %s\n", version.String())
	if c.showVersion {
		return nil
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&c.zap)))
	cfg, err := restConfig(c.kubeconfig)
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg, c.opts)
}

// restConfig loads the kubeconfig flag, or the in-cluster configuration,
// or the default loading rules ($KUBECONFIG, ~/.kube/config).
func restConfig(path string) (*rest.Config, error) {
	if path != "" {
		return clientcmd.BuildConfigFromFlags("", path)
	}
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no kubeconfig: pass --kubeconfig, set $KUBECONFIG, or run in a cluster: %w", err)
	}
	return cfg, nil
}
