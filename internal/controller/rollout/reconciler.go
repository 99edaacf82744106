package rollout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/metrics"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/validation"
)

// Reconciler reconciles Rollouts.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client ctrl.Client
	// APIReader reads past the cache: a workloadRef's workload or a Service
	// before the controller has labelled it (and so caches it).
	APIReader ctrl.Reader
	// ReferencedReplicaSets caches the ReplicaSets that workloadRefs name
	// (labelled ramp.dev/workload-ref): the manager's cache holds only
	// Ramp's own. Nil reads them through APIReader, with no watch.
	ReferencedReplicaSets cache.Cache
	// Events records Kubernetes events about rollouts.
	Events events.EventRecorder
	// Clock tells the time of pauses and delays.
	Clock clock.PassiveClock
	// Routers builds the traffic routers of canary rollouts that use
	// trafficRouting; nil refuses them (trafficrouting.None).
	Routers trafficrouting.Factory
	// Targets, when set, checks that load balancers registered the pods a
	// Service selects after its selector switched; the old version is
	// scaled down only then (--aws-verify-target-group).
	Targets trafficrouting.TargetVerifier
	// VerifyRetry is how soon an unverified weight or target group is
	// checked again (default 10s).
	VerifyRetry time.Duration
	// InstanceID, when set, restricts the reconciler to rollouts labelled
	// ramp.dev/controller-instance-id with this value; when empty, to
	// rollouts without the label.
	InstanceID string
	// Workers is how many rollouts are reconciled at once (default 1); the
	// work queue never hands one rollout to two workers at once.
	Workers int
	// Metrics, when set, measures reconciles (<kind>_reconcile and
	// <kind>_reconcile_error, as Argo Rollouts).
	Metrics *metrics.Metrics
	// SkipNameValidation lets a process register the reconciler more than
	// once (a test that restarts the controller).
	SkipNameValidation bool

	// written remembers, per rollout, the resourceVersion of the last status
	// this reconciler wrote, so that it never acts on an older copy from
	// the cache (which would undo what it just did, such as a switch of the
	// active Service). An entry goes when its rollout is gone.
	written sync.Map
}

var _ reconcile.Reconciler = (*Reconciler)(nil)

// Remembered is how many rollouts the reconciler keeps state for (the
// resourceVersion of its last status write): those it wrote and that
// still exist.
func (r *Reconciler) Remembered() int {
	n := 0
	r.written.Range(func(any, any) bool { n++; return true })
	return n
}

// ownerIndex indexes ReplicaSets by the name of the Rollout that controls
// them.
const ownerIndex = ".metadata.controller.rollout"

// Reconcile brings one Rollout one step closer to its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ro := &v1alpha1.Rollout{}
	if err := r.Client.Get(ctx, req.NamespacedName, ro); err != nil {
		if apierrors.IsNotFound(err) {
			r.written.Delete(req.NamespacedName)
			metrics.Gone(ctx)
		}
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	if ro.Labels[v1alpha1.InstanceIDLabelKey] != r.InstanceID {
		r.written.Delete(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	if _, ok := ro.Annotations[v1alpha1.MigratingAnnotation]; ok {
		// `ramp migrate` is moving objects to or from it; the annotation's
		// removal brings the rollout back.
		r.written.Delete(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	// The Gateway API plugin's configuration runs with the built-in
	// router: from here on the rollout is read as if it said gatewayAPI.
	// The spec is never written back, so the user's form stays.
	pluginErr := resolvePlugins(ro)
	if ro.DeletionTimestamp != nil {
		return requeueOnConflict(r.finalize(ctx, ro))
	}
	if wrote, err := r.ensureFinalizer(ctx, ro); err != nil || wrote {
		// The patch brings the rollout back.
		return requeueOnConflict(err)
	}
	if last, ok := r.written.Load(req.NamespacedName); ok && olderThan(ro.ResourceVersion, last.(string)) {
		// The cache has not caught up with our own last write yet; its
		// watch event brings us back.
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	s := &syncer{r: r, ro: ro, now: r.Clock.Now(), status: ro.Status.DeepCopy(), pluginErr: pluginErr}
	err := s.stopOn(s.sync(ctx))
	if perr := r.patchStatus(ctx, ro, s); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return requeueOnConflict(err)
	}
	return s.reconcileResult()
}

// requeueOnConflict turns the API server's Conflict into a plain requeue:
// the rollout changed since it was read (a user's action, a new template),
// so what was decided on the old copy is not written and the next
// reconcile decides again on the new one. Other errors are returned.
func requeueOnConflict(err error) (reconcile.Result, error) {
	if apierrors.IsConflict(err) {
		return reconcile.Result{Requeue: true}, nil
	}
	return reconcile.Result{}, err
}

// errReference makes the manager retry a rollout whose references are
// missing, with exponential backoff.
var errReference = errors.New("a referenced object is missing; retrying")

// syncer holds one reconcile's view of a rollout.
type syncer struct {
	r      *Reconciler
	ro     *v1alpha1.Rollout
	now    time.Time
	status *v1alpha1.RolloutStatus
	// pluginErr is why a plugin configuration could not be resolved.
	pluginErr error

	// Filled by snapshot.
	hash     string
	rss      []*appsv1.ReplicaSet
	newRS    *appsv1.ReplicaSet
	stableRS *appsv1.ReplicaSet
	// pendingRS is set while newRS exists only in memory (flushNewRS).
	pendingRS bool

	// served is the Service whose selector moves to the new version
	// (blue/green's active, the canary's stable); with r.Targets, old
	// ReplicaSets wait until its targets are registered.
	served *corev1.Service
	// targets remembers this reconcile's answer about served's targets.
	targets *bool
	// stepExperiment is the canary's current experiment, for the abort
	// message.
	stepExperiment *v1alpha1.Experiment

	result
}

// result is what one reconcile learnt beyond the objects it wrote: why the
// spec cannot be acted on, when to come back, and what the status message
// says. Each step of the sync adds to it and stops when invalid is set;
// computeStatus turns it into the status and Reconcile into the
// reconcile.Result. (The writes themselves are each idempotent: see
// docs/controller.md, "What each write leaves behind".)
type result struct {
	// requeue is the soonest time-based work falls due.
	requeue time.Duration
	// invalid is the reason the spec cannot be acted on, if any (a
	// stopped error the sync returned).
	invalid string
	// invalidReason is the condition reason for invalid.
	invalidReason string
	// referenceMissing is set when invalid names an object that may yet
	// appear: the reconcile is retried with backoff.
	referenceMissing bool
	// podProblems says what is wrong with the new pods, if anything.
	podProblems string
	// stepMessage names the canary step under way, for the status message.
	stepMessage string
	// pauseMessage says what a pause waits for and how long it has left.
	pauseMessage string
}

// stopped is why a rollout's spec cannot be acted on now. The step that
// finds it returns it as its error, which ends the sync at once (no caller
// checks a flag after each call); Reconcile shows it in the status (phase
// Degraded, the reason's condition and event) and, with retry (an object
// that may yet appear), tries again with backoff.
type stopped struct {
	reason, msg string
	retry       bool
}

func (e *stopped) Error() string { return e.msg }

// invalidSpec stops the sync on a spec that cannot be acted on.
func invalidSpec(msg string) error { return &stopped{reason: v1alpha1.ReasonInvalidSpec, msg: msg} }

// missingReference stops the sync on an object the spec names that is not
// there (yet): retried with backoff.
func missingReference(reason, msg string) error {
	return &stopped{reason: reason, msg: msg, retry: true}
}

// stopOn records a stop in the result and returns the other errors.
func (s *syncer) stopOn(err error) error {
	var st *stopped
	if !errors.As(err, &st) {
		return err
	}
	s.invalid, s.invalidReason, s.referenceMissing = st.msg, st.reason, st.retry
	return nil
}

// reconcileResult is when the rollout is to be reconciled again.
func (r result) reconcileResult() (reconcile.Result, error) {
	switch {
	case r.referenceMissing:
		// A missing reference may appear: look again, backing off.
		return reconcile.Result{}, errReference
	case r.requeue > 0:
		return reconcile.Result{RequeueAfter: r.requeue}, nil
	}
	return reconcile.Result{}, nil
}

// after asks to be called again in d.
func (s *syncer) after(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if s.requeue == 0 || d < s.requeue {
		s.requeue = d
	}
}

// event records an event about the rollout.
func (s *syncer) event(eventType, reason, format string, args ...any) {
	if s.r.Events != nil {
		s.r.Events.Eventf(s.ro, nil, eventType, reason, reason, format, args...)
	}
}

func (s *syncer) sync(ctx context.Context) error {
	if s.pluginErr != nil {
		return invalidSpec(s.pluginErr.Error())
	}
	if errs := validation.Rollout(s.ro); len(errs) > 0 {
		return invalidSpec(errs.ToAggregate().Error())
	}
	var wl *workload
	if s.ro.Spec.WorkloadRef != nil {
		var err error
		if wl, err = s.resolveWorkload(ctx); err != nil {
			return err
		}
		resolved := s.ro.Spec.DeepCopy()
		resolved.WorkloadRef = nil
		if errs := validation.RolloutSpec(resolved, field.NewPath("spec")); len(errs) > 0 {
			return invalidSpec("spec.workloadRef: " + wl.kind() + " " + s.ro.Spec.WorkloadRef.Name + ": " + errs.ToAggregate().Error())
		}
	}
	if err := s.snapshot(ctx); err != nil {
		return err
	}
	s.trackManualPause()
	strategy := s.syncCanary
	if s.ro.Spec.Strategy.BlueGreen != nil {
		strategy = s.syncBlueGreen
	}
	err := strategy(ctx)
	if ferr := s.flushNewRS(ctx); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if err := s.syncEphemeralMetadata(ctx); err != nil {
		return err
	}
	if err := s.syncRestart(ctx); err != nil {
		return err
	}
	if err := s.scaleWorkload(ctx, wl); err != nil {
		return err
	}
	if err := s.collectHistory(ctx); err != nil {
		return err
	}
	return s.diagnose(ctx)
}

// routers is the Factory of traffic routers, trafficrouting.None when unset.
func (r *Reconciler) routers() trafficrouting.Factory {
	if r.Routers == nil {
		return trafficrouting.None{}
	}
	return r.Routers
}

// patchStatus computes the status and writes it when it differs, on the
// condition that the rollout is still the one read (resourceVersion): a
// user's abort, promotion or retry that landed since, or a new template,
// is never overwritten nor left to apply to what was decided without it.
func (r *Reconciler) patchStatus(ctx context.Context, ro *v1alpha1.Rollout, s *syncer) error {
	s.computeStatus()
	if apiequality.Semantic.DeepEqual(&ro.Status, s.status) {
		return nil
	}
	updated := ro.DeepCopy()
	updated.Status = *s.status
	if err := r.Client.Status().Patch(ctx, updated, lockedMergeFrom(ro)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("writing status: %w", err)
	}
	r.written.Store(ctrl.ObjectKeyFromObject(ro), updated.ResourceVersion)
	return nil
}

// olderThan reports whether resourceVersion a precedes b. Resource versions
// are etcd revisions; a value that does not parse is never called older.
func olderThan(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

// resolvePlugins resolves ro's plugin configurations that Ramp runs with a
// built-in router (trafficrouting.ResolvePlugins), in place.
func resolvePlugins(ro *v1alpha1.Rollout) error {
	if c := ro.Spec.Strategy.Canary; c != nil {
		return trafficrouting.ResolvePlugins(c.TrafficRouting)
	}
	return nil
}
