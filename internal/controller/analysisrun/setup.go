package analysisrun

import (
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// SetupWithManager registers the reconciler. Finished runs are watched like
// the others, but their reconcile returns at once: a thousand of them cost
// nothing at rest.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("analysisrun").
		WithOptions(controller.Options{SkipNameValidation: ptr.To(r.SkipNameValidation)}).
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
		Complete(r)
}
