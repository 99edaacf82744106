package migrate

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// PlanUndo says what UndoMigration would hand back: every Ramp Rollout
// that `ramp migrate` made (in scope), to the Argo Rollout it came from.
// One whose Argo Rollout is gone, or that Ramp has since moved to another
// version (Argo's controller would roll it back to its own template), is
// refused unless opts.Force.
func (m *Migrator) PlanUndo(ctx context.Context, opts Options) (*Plan, error) {
	p := &Plan{}
	var list v1alpha1.RolloutList
	var lopts []client.ListOption
	if opts.Namespace != "" {
		lopts = append(lopts, client.InNamespace(opts.Namespace))
	}
	if err := m.Client.List(ctx, &list, lopts...); err != nil {
		return nil, fmt.Errorf("listing Ramp's Rollouts: %w", err)
	}
	for i := range list.Items {
		ro := &list.Items[i]
		from := ro.Annotations[v1alpha1.MigratedFromAnnotation]
		if from == "" || (opts.Rollout != "" && ro.Name != opts.Rollout) {
			continue
		}
		mv := &RolloutMove{Namespace: ro.Namespace, Name: ro.Name, existing: ro, ramp: ro, status: &ro.Status}
		mv.State = describeState(ro, &ro.Status)
		argo := &unstructured.Unstructured{}
		argo.SetGroupVersionKind(argoRollout)
		err := m.Client.Get(ctx, client.ObjectKeyFromObject(ro), argo)
		switch {
		case apierrors.IsNotFound(err):
			mv.Refused = append(mv.Refused, "the Argo Rollout it came from is gone")
		case err != nil:
			return nil, fmt.Errorf("reading the Argo Rollout %s/%s: %w", ro.Namespace, ro.Name, err)
		case migratedFrom(argo) != from:
			mv.Refused = append(mv.Refused, "the Argo Rollout of that name is not the one it came from")
		default:
			mv.argo = argo
			argoHash, _, _ := unstructured.NestedString(argo.Object, "status", "currentPodHash")
			if argoHash != ro.Status.CurrentPodHash {
				why := fmt.Sprintf("Ramp has moved it from %s (Argo's last version) to %s; Argo's controller would roll it back to its own template", orNone(argoHash), orNone(ro.Status.CurrentPodHash))
				if opts.Force {
					mv.Forced = why
				} else {
					mv.Refused = append(mv.Refused, why+" (--force hands it back anyway)")
				}
			}
		}
		if mv.argo != nil {
			if err := m.readOwned(ctx, mv, mv.argo); err != nil {
				return nil, err
			}
		}
		p.Rollouts = append(p.Rollouts, mv)
	}
	if opts.Rollout != "" && len(p.Rollouts) == 0 {
		return nil, fmt.Errorf("no migrated Rollout %q in namespace %s", opts.Rollout, opts.Namespace)
	}
	return p, nil
}

// UndoMigration hands each Rollout of plan (from PlanUndo) that is not
// refused back to Argo Rollouts: the Ramp Rollout is marked
// ramp.dev/migrating (Ramp's controller leaves it alone from then on), its
// ReplicaSets and Ingresses are given back to the Argo Rollout, Ramp's marks
// come off the Services and Ingresses, and the Ramp Rollout is deleted
// without its finalizer (its routers are not reset: Argo takes the traffic
// as it is). Selectors, weights and pods are not touched. A run that is
// cut short is resumed by running it again.
func (m *Migrator) UndoMigration(ctx context.Context, plan *Plan, report func(*RolloutMove)) error {
	for _, mv := range plan.Rollouts {
		if len(mv.Refused) > 0 {
			continue
		}
		if err := m.handBack(ctx, mv); err != nil {
			return fmt.Errorf("Rollout %s/%s: %w (run the undo again to resume it)", mv.Namespace, mv.Name, err)
		}
		if report != nil {
			report(mv)
		}
	}
	return nil
}

func (m *Migrator) handBack(ctx context.Context, mv *RolloutMove) error {
	ro := mv.existing
	if _, ok := ro.Annotations[v1alpha1.MigratingAnnotation]; !ok {
		before := ro.DeepCopy()
		ro.Annotations = withKey(ro.Annotations, v1alpha1.MigratingAnnotation, "undo")
		if err := m.Client.Patch(ctx, ro, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("stopping Ramp's controller on it: %w", err)
		}
	}
	owner := metav1.OwnerReference{
		APIVersion: ArgoAPIVersion, Kind: "Rollout", Name: mv.argo.GetName(), UID: mv.argo.GetUID(),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
	for _, rs := range mv.rss {
		if err := m.giveBack(ctx, rs, ro, owner); err != nil {
			return err
		}
	}
	for _, ing := range mv.ings {
		patch := client.MergeFromWithOptions(ing.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if ref := controllerOf(ing); ref != nil && ref.UID == ro.UID {
			setController(ing, owner)
		}
		dropManagedALB(ing, ro.Name)
		if err := m.Client.Patch(ctx, ing, patch); err != nil {
			return fmt.Errorf("handing back Ingress %s: %w", ing.Name, err)
		}
	}
	for _, name := range mv.Services {
		if err := m.markService(ctx, mv.Namespace, name, ro.Name, false); err != nil {
			return err
		}
	}
	before := ro.DeepCopy()
	controllerutil.RemoveFinalizer(ro, v1alpha1.RoutingFinalizer)
	if err := m.Client.Patch(ctx, ro, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("removing its finalizer: %w", err)
	}
	if err := m.Client.Delete(ctx, ro, client.Preconditions{UID: &ro.UID}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Ramp's Rollout: %w", err)
	}
	return nil
}

// giveBack makes the Argo Rollout rs's controller again.
func (m *Migrator) giveBack(ctx context.Context, rs *appsv1.ReplicaSet, ro *v1alpha1.Rollout, owner metav1.OwnerReference) error {
	if ref := controllerOf(rs); ref == nil || ref.UID != ro.UID {
		return nil
	}
	patch := client.MergeFromWithOptions(rs.DeepCopy(), client.MergeFromWithOptimisticLock{})
	setController(rs, owner)
	if err := m.Client.Patch(ctx, rs, patch); err != nil {
		return fmt.Errorf("handing back ReplicaSet %s: %w", rs.Name, err)
	}
	return nil
}

// dropManagedALB removes rollout's entry from Ramp's ALB bookkeeping.
func dropManagedALB(ing *networkingv1.Ingress, rollout string) {
	v := ing.Annotations[v1alpha1.ManagedALBAnnotationsKey]
	if v == "" {
		return
	}
	managed := map[string][]string{}
	if json.Unmarshal([]byte(v), &managed) != nil {
		return
	}
	delete(managed, rollout)
	if len(managed) == 0 {
		delete(ing.Annotations, v1alpha1.ManagedALBAnnotationsKey)
		return
	}
	b, _ := json.Marshal(managed)
	ing.Annotations[v1alpha1.ManagedALBAnnotationsKey] = string(b)
}
