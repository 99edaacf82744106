package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/canary"
	"github.com/rampdev/ramp/internal/replicaset"
)

// ArgoLeaseName is the Lease Argo Rollouts' controller holds while it
// leads ("argo-rollouts-controller-lock", with "-<instance id>" for a
// sharded controller), in its own namespace.
const ArgoLeaseName = "argo-rollouts-controller-lock"

// argoLeaseDuration is Argo's default --leader-election-lease-duration,
// for a Lease that does not say its own.
const argoLeaseDuration = 15 * time.Second

// Argo Rollouts' keys that Ramp has its own of.
const (
	argoManagedBy      = "argo-rollouts.argoproj.io/managed-by-rollouts"
	argoManagedALB     = "rollouts.argoproj.io/managed-alb-annotations"
	argoRevisionPrefix = "rollout.argoproj.io/"
)

// argoLeader says which Lease shows Argo Rollouts' controller running, or
// "". It reads Leases in every namespace: Argo's controller may run in any.
func (m *Migrator) argoLeader(ctx context.Context) (string, error) {
	var leases coordinationv1.LeaseList
	if err := m.Client.List(ctx, &leases); err != nil {
		return "", fmt.Errorf("cannot tell whether Argo Rollouts' controller runs: listing coordination.k8s.io Leases in every namespace (where its leader lock %s is): %w", ArgoLeaseName, err)
	}
	now := m.Clock.Now()
	for _, l := range leases.Items {
		if l.Name != ArgoLeaseName && !strings.HasPrefix(l.Name, ArgoLeaseName+"-") {
			continue
		}
		holder := ptr.Deref(l.Spec.HolderIdentity, "")
		renewed := l.Spec.RenewTime
		if holder == "" || renewed == nil {
			continue
		}
		d := argoLeaseDuration
		if l.Spec.LeaseDurationSeconds != nil {
			d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
		}
		if now.Before(renewed.Add(d)) {
			return fmt.Sprintf("Argo Rollouts' controller runs: Lease %s/%s is held by %q (renewed %s ago, valid for %s); scale its Deployment to 0 and wait until the Lease is released or expires", l.Namespace, l.Name, holder, now.Sub(renewed.Time).Round(time.Second), d), nil
		}
	}
	return "", nil
}

// Migrate carries out plan: templates are created under Ramp's API, and
// each Rollout that is not refused is created under Ramp's API, given the
// Argo Rollout's status, and handed its ReplicaSets, Ingresses and
// Services. The Ramp Rollout carries ramp.dev/migrating until everything
// is moved, so Ramp's controller leaves it alone meanwhile; a run that is
// cut short is resumed by running it again. report is told of each
// Rollout moved.
func (m *Migrator) Migrate(ctx context.Context, plan *Plan, report func(*RolloutMove)) error {
	if plan.Leader != "" {
		return errors.New(plan.Leader)
	}
	for _, t := range plan.Templates {
		if t.Refused != "" || t.Exists {
			continue
		}
		if err := m.Client.Create(ctx, t.obj.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Ramp's %s %s: %w", t.Kind, t.Name, err)
		}
	}
	for _, mv := range plan.Rollouts {
		if len(mv.Refused) > 0 {
			continue
		}
		if err := m.moveRollout(ctx, mv); err != nil {
			return fmt.Errorf("Rollout %s/%s: %w (run the migration again to resume it)", mv.Namespace, mv.Name, err)
		}
		if report != nil {
			report(mv)
		}
	}
	return nil
}

func (m *Migrator) moveRollout(ctx context.Context, mv *RolloutMove) error {
	ro := mv.existing
	if ro == nil {
		ro = mv.ramp.DeepCopy()
		ro.Annotations = withKey(ro.Annotations, v1alpha1.MigratingAnnotation, "true")
		if err := m.Client.Create(ctx, ro); err != nil {
			return fmt.Errorf("creating it under Ramp's API: %w", err)
		}
	}
	// The status first: once the ReplicaSets are Ramp's, the Rollout must
	// already say which one is stable.
	st := mv.status.DeepCopy()
	if c := ro.Spec.Strategy.Canary; c != nil && st.CurrentStepHash != "" {
		st.CurrentStepHash = canary.StepsHash(c.Steps)
	}
	before := ro.DeepCopy()
	ro.Status = *st
	if err := m.Client.Status().Patch(ctx, ro, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing its status: %w", err)
	}
	owner := metav1.NewControllerRef(ro, v1alpha1.SchemeGroupVersion.WithKind("Rollout"))
	for _, rs := range mv.rss {
		patch := client.MergeFromWithOptions(rs.DeepCopy(), client.MergeFromWithOptimisticLock{})
		setController(rs, *owner)
		for k, v := range rs.Annotations {
			if name, ok := strings.CutPrefix(k, argoRevisionPrefix); ok {
				rs.Annotations["rollout.ramp.dev/"+name] = v
			}
		}
		if replicaset.Hash(rs) == st.CurrentPodHash {
			rs.Annotations = withKey(rs.Annotations, v1alpha1.TemplateDigestAnnotation, replicaset.TemplateDigest(&ro.Spec.Template))
		}
		if err := m.Client.Patch(ctx, rs, patch); err != nil {
			return fmt.Errorf("handing over ReplicaSet %s: %w", rs.Name, err)
		}
	}
	for _, ing := range mv.ings {
		if err := m.moveIngress(ctx, ing, mv.argo.GetUID(), *owner); err != nil {
			return err
		}
	}
	for _, name := range mv.Services {
		if err := m.markService(ctx, mv.Namespace, name, ro.Name, true); err != nil {
			return err
		}
	}
	before = ro.DeepCopy()
	delete(ro.Annotations, v1alpha1.MigratingAnnotation)
	if err := m.Client.Patch(ctx, ro, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("handing it to Ramp's controller: %w", err)
	}
	return nil
}

// setController makes ref obj's controller, in place of the one it had.
func setController(obj client.Object, ref metav1.OwnerReference) {
	refs := []metav1.OwnerReference{ref}
	for _, r := range obj.GetOwnerReferences() {
		if r.Controller == nil || !*r.Controller {
			refs = append(refs, r)
		}
	}
	obj.SetOwnerReferences(refs)
}

// moveIngress hands an Ingress the Argo Rollout controls (an NGINX canary
// Ingress) to owner, and gives Ramp the bookkeeping of the ALB annotations
// Argo wrote for the rollout. Its annotations' values are not changed.
func (m *Migrator) moveIngress(ctx context.Context, ing *networkingv1.Ingress, argoUID types.UID, owner metav1.OwnerReference) error {
	patch := client.MergeFromWithOptions(ing.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if ref := controllerOf(ing); ref != nil && ref.UID == argoUID {
		setController(ing, owner)
	}
	if v := ing.Annotations[argoManagedALB]; v != "" {
		argo := map[string][]string{}
		ramp := map[string][]string{}
		if err := json.Unmarshal([]byte(v), &argo); err != nil {
			return fmt.Errorf("Ingress %s: annotation %s is not a JSON map: %v", ing.Name, argoManagedALB, err)
		}
		if r := ing.Annotations[v1alpha1.ManagedALBAnnotationsKey]; r != "" {
			if err := json.Unmarshal([]byte(r), &ramp); err != nil {
				return fmt.Errorf("Ingress %s: annotation %s is not a JSON map: %v", ing.Name, v1alpha1.ManagedALBAnnotationsKey, err)
			}
		}
		if keys, ok := argo[owner.Name]; ok {
			ramp[owner.Name] = keys
			b, _ := json.Marshal(ramp)
			ing.Annotations[v1alpha1.ManagedALBAnnotationsKey] = string(b)
		}
	}
	if err := m.Client.Patch(ctx, ing, patch); err != nil {
		return fmt.Errorf("handing over Ingress %s: %w", ing.Name, err)
	}
	return nil
}

// markService labels and annotates a Service as Ramp's controller does for
// the Services a rollout manages (on), or takes that off (undo); its
// selector is not touched.
func (m *Migrator) markService(ctx context.Context, ns, name, rollout string, on bool) error {
	svc := &corev1.Service{}
	if err := m.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // the controller reports a missing Service
		}
		return fmt.Errorf("reading Service %s: %w", name, err)
	}
	patch := client.MergeFromWithOptions(svc.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if on {
		svc.Labels = withKey(svc.Labels, v1alpha1.ManagedLabelKey, "true")
		svc.Annotations = withKey(svc.Annotations, v1alpha1.ManagedByRolloutsKey, rollout)
	} else {
		delete(svc.Labels, v1alpha1.ManagedLabelKey)
		delete(svc.Annotations, v1alpha1.ManagedByRolloutsKey)
	}
	if err := m.Client.Patch(ctx, svc, patch); err != nil {
		return fmt.Errorf("marking Service %s: %w", name, err)
	}
	return nil
}
