package experiment

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/metrics"
)

// +kubebuilder:rbac:groups=ramp.dev,resources=experiments,verbs=list;watch
// +kubebuilder:rbac:groups=ramp.dev,resources=experiments/status,verbs=patch
// +kubebuilder:rbac:groups=ramp.dev,resources=experiments/finalizers,verbs=update
// +kubebuilder:rbac:groups=ramp.dev,resources=analysisruns,verbs=get;list;watch;create;patch

// Reconciler reconciles Experiments.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads from the API server what the cache does not hold
	// (a Service of the user's under a template's Service name).
	APIReader client.Reader
	// Events records Kubernetes events about experiments.
	Events events.EventRecorder
	// Clock tells the time of durations and deadlines.
	Clock clock.PassiveClock
	// InstanceID restricts the reconciler to experiments of this controller
	// instance (ramp.dev/controller-instance-id), as for Rollouts.
	InstanceID string
	// Workers is how many experiments are reconciled at once (default 1).
	Workers int
	// Metrics, when set, measures reconciles (<kind>_reconcile and
	// <kind>_reconcile_error, as Argo Rollouts).
	Metrics *metrics.Metrics
	// SkipNameValidation lets a process register the reconciler more than
	// once (a test that restarts the controller).
	SkipNameValidation bool
}

var _ reconcile.Reconciler = (*Reconciler)(nil)

// SetupWithManager registers the reconciler and its watches: Experiments
// and the ReplicaSets, AnalysisRuns and Services they own.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("experiment").
		WithOptions(controller.Options{SkipNameValidation: ptr.To(r.SkipNameValidation), MaxConcurrentReconciles: max(r.Workers, 1)}).
		For(&v1alpha1.Experiment{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(obj client.Object) bool {
			return obj.GetLabels()[v1alpha1.InstanceIDLabelKey] == r.InstanceID
		}))).
		Owns(&appsv1.ReplicaSet{}).
		Owns(&v1alpha1.AnalysisRun{}).
		Owns(&corev1.Service{}).
		Complete(r.Metrics.Reconciler(metrics.Experiment, r))
}

// Reconcile carries one experiment a step and writes its status when it
// changed.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	exp := &v1alpha1.Experiment{}
	if err := r.Client.Get(ctx, req.NamespacedName, exp); err != nil {
		if apierrors.IsNotFound(err) {
			metrics.Gone(ctx)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !exp.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	clk := r.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	x := &run{r: r, exp: exp, status: exp.Status.DeepCopy(), now: clk.Now()}
	err := x.sync(ctx)
	if !apiequality.Semantic.DeepEqual(&exp.Status, x.status) {
		patch := client.MergeFromWithOptions(exp.DeepCopy(), client.MergeFromWithOptimisticLock{})
		exp.Status = *x.status
		if perr := r.Client.Status().Patch(ctx, exp, patch); perr != nil {
			if apierrors.IsConflict(perr) {
				return reconcile.Result{Requeue: true}, nil
			}
			return reconcile.Result{}, fmt.Errorf("writing the status of Experiment %s: %w", exp.Name, perr)
		}
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	if x.after > 0 {
		return reconcile.Result{RequeueAfter: x.after}, nil
	}
	return reconcile.Result{}, nil
}

// run is one reconcile of one experiment.
type run struct {
	r      *Reconciler
	exp    *v1alpha1.Experiment
	status *v1alpha1.ExperimentStatus
	now    time.Time
	after  time.Duration
	// rss are the templates' ReplicaSets, by template name.
	rss map[string]*appsv1.ReplicaSet
}

// wake asks for a reconcile within d (the soonest asked wins).
func (x *run) wake(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if x.after == 0 || d < x.after {
		x.after = d
	}
}

func (x *run) event(eventType, reason, format string, args ...any) {
	if x.r.Events != nil {
		x.r.Events.Eventf(x.exp, nil, eventType, reason, reason, format, args...)
	}
}
