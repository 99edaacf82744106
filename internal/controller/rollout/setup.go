package rollout

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/metrics"
	"github.com/rampdev/ramp/internal/replicaset"
)

// workloadIndex indexes Rollouts by the workload their workloadRef names
// (workloadKey).
const workloadIndex = ".spec.workloadRef"

// workloadKey is a workloadRef's kind (Deployment by default) and name.
func workloadKey(kind, name string) string {
	if kind == "" {
		kind = v1alpha1.WorkloadKindDeployment
	}
	return kind + "/" + name
}

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
	// A rollout's runs and experiments are looked up on every reconcile
	// (history limits): by owner, not by scanning the namespace.
	byRollout := func(obj client.Object) []string {
		if ref := metav1.GetControllerOf(obj); ref != nil && ref.Kind == "Rollout" && ref.APIVersion == v1alpha1.SchemeGroupVersion.String() {
			return []string{ref.Name}
		}
		return nil
	}
	for _, obj := range []client.Object{&v1alpha1.AnalysisRun{}, &v1alpha1.Experiment{}} {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), obj, rolloutOwnerIndex, byRollout); err != nil {
			return err
		}
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
	// A workload may be named by several Rollouts: each is told of its
	// changes.
	err = mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Rollout{}, workloadIndex, func(obj client.Object) []string {
		if ref := obj.(*v1alpha1.Rollout).Spec.WorkloadRef; ref != nil {
			return []string{workloadKey(ref.Kind, ref.Name)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	toRollouts := func(kind string) handler.MapFunc {
		return func(ctx context.Context, obj client.Object) []reconcile.Request {
			var list v1alpha1.RolloutList
			err := mgr.GetClient().List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{workloadIndex: workloadKey(kind, obj.GetName())})
			if err != nil {
				return nil
			}
			reqs := make([]reconcile.Request, 0, len(list.Items))
			for _, ro := range list.Items {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}})
			}
			return reqs
		}
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("rollout").
		WithOptions(controller.Options{SkipNameValidation: ptr.To(r.SkipNameValidation), MaxConcurrentReconciles: r.Workers}).
		For(&v1alpha1.Rollout{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(obj client.Object) bool {
			return obj.GetLabels()[v1alpha1.InstanceIDLabelKey] == r.InstanceID
		}))).
		Owns(&appsv1.ReplicaSet{}).
		Owns(&v1alpha1.AnalysisRun{}).
		Owns(&v1alpha1.Experiment{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(toRollouts(v1alpha1.WorkloadKindDeployment))).
		Watches(&corev1.PodTemplate{}, handler.EnqueueRequestsFromMapFunc(toRollouts(v1alpha1.WorkloadKindPodTemplate))).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
			name := obj.GetAnnotations()[v1alpha1.ManagedByRolloutsKey]
			if name == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
		}))
	if r.ReferencedReplicaSets != nil {
		b = b.WatchesRawSource(source.Kind(r.ReferencedReplicaSets, &appsv1.ReplicaSet{},
			handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, rs *appsv1.ReplicaSet) []reconcile.Request {
				return toRollouts(v1alpha1.WorkloadKindReplicaSet)(ctx, rs)
			})))
	}
	return b.Complete(r.Metrics.Reconciler(metrics.Rollout, r))
}
