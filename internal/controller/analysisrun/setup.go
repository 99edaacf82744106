package analysisrun

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/utils/lru"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/metrics"
)

// SetupWithManager registers the reconciler. Finished runs are watched like
// the others, but their reconcile returns at once: a thousand of them cost
// nothing at rest. A provider call that answers after its reconcile gave
// up waiting brings its run back through a channel source.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	stop := make(chan struct{})
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		close(stop)
		return nil
	})); err != nil {
		return err
	}
	r.conditions = lru.New(conditionCacheSize)
	r.calls = newCalls(r.MeasureWait, r.MaxCalls, r.MaxTimeout, stop)
	return ctrl.NewControllerManagedBy(mgr).
		Named("analysisrun").
		WithOptions(controller.Options{SkipNameValidation: ptr.To(r.SkipNameValidation), MaxConcurrentReconciles: r.Workers}).
		For(&v1alpha1.AnalysisRun{}, builder.WithPredicates(
			predicate.NewPredicateFuncs(func(obj client.Object) bool {
				return obj.GetLabels()[v1alpha1.InstanceIDLabelKey] == r.InstanceID
			}),
			// Status writes (the reconciler's own) do not call it back; spec
			// changes (terminate) and new runs do.
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}),
		)).
		// A measurement Job that finishes calls its run back at once.
		Owns(&batchv1.Job{}).
		WatchesRawSource(source.Channel(r.calls.wake, &handler.EnqueueRequestForObject{})).
		Complete(r.Metrics.Reconciler(metrics.AnalysisRun, r))
}

// Pending is how many provider calls the reconciler keeps: under way, or
// answered and not yet recorded.
func (r *Reconciler) Pending() int {
	if r.calls == nil {
		return 0
	}
	return r.calls.len()
}
