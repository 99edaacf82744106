package rollout

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// hashIndex indexes pods and AnalysisRuns by their pod-template hash label.
const hashIndex = ".metadata.labels.hash"

// SetupWithManager registers the reconciler, its ReplicaSet index and its
// watches: Rollouts, the ReplicaSets they own, and the Services they manage.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	registerMetrics()
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &appsv1.ReplicaSet{}, ownerIndex, func(obj client.Object) []string {
		if ref := ownerOf(obj.(*appsv1.ReplicaSet)); ref != nil {
			return []string{ref.Name}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Pods and runs are looked up by pod-template hash on every
	// reconcile: an index keeps that from scanning a namespace of
	// thousands.
	byHash := func(obj client.Object) []string {
		if h := obj.GetLabels()[replicaset.HashLabel]; h != "" {
			return []string{h}
		}
		return nil
	}
	for _, obj := range []client.Object{&corev1.Pod{}, &v1alpha1.AnalysisRun{}} {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), obj, hashIndex, byHash); err != nil {
			return err
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("rollout").
		WithOptions(controller.Options{SkipNameValidation: ptr.To(r.SkipNameValidation), MaxConcurrentReconciles: r.Workers}).
		For(&v1alpha1.Rollout{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(obj client.Object) bool {
			return obj.GetLabels()[v1alpha1.InstanceIDLabelKey] == r.InstanceID
		}))).
		Owns(&appsv1.ReplicaSet{}).
		Owns(&v1alpha1.AnalysisRun{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
			name := obj.GetLabels()[WorkloadRefLabel]
			if name == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
		})).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
			name := obj.GetAnnotations()[v1alpha1.ManagedByRolloutsKey]
			if name == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
		})).
		Complete(r)
}
