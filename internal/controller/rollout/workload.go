package rollout

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// WorkloadRefLabel marks a Deployment that a Rollout takes its template
// from; its value is the Rollout's name. The controller caches only
// Deployments with this label.
const WorkloadRefLabel = "ramp.dev/workload-ref"

// originalReplicasAnnotation keeps a referenced Deployment's size from
// before Ramp scaled it down, to scale it back if the rollout fails.
const originalReplicasAnnotation = "rollout.ramp.dev/original-replicas"

// resolveWorkload takes the pod template (and, when the rollout has none,
// the selector) from the Deployment spec.workloadRef names. The rollout in
// s is replaced by a copy that holds them; the stored object is unchanged.
func (s *syncer) resolveWorkload(ctx context.Context) (*appsv1.Deployment, error) {
	ref := s.ro.Spec.WorkloadRef
	key := ctrl.ObjectKey{Namespace: s.ro.Namespace, Name: ref.Name}
	dep := &appsv1.Deployment{}
	err := s.r.Client.Get(ctx, key, dep)
	if apierrors.IsNotFound(err) && s.r.APIReader != nil {
		// Not labelled yet, so not cached: read it, then label it.
		err = s.r.APIReader.Get(ctx, key, dep)
		if err == nil && dep.Labels[WorkloadRefLabel] != s.ro.Name {
			patch := ctrl.MergeFrom(dep.DeepCopy())
			if dep.Labels == nil {
				dep.Labels = map[string]string{}
			}
			dep.Labels[WorkloadRefLabel] = s.ro.Name
			err = s.r.Client.Patch(ctx, dep, patch)
		}
	}
	if apierrors.IsNotFound(err) {
		return nil, missingReference(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("spec.workloadRef: Deployment %q not found in namespace %s", ref.Name, s.ro.Namespace))
	}
	if err != nil {
		return nil, fmt.Errorf("reading Deployment %s: %w", ref.Name, err)
	}
	resolved := s.ro.DeepCopy()
	resolved.Spec.Template = *dep.Spec.Template.DeepCopy()
	if resolved.Spec.Selector == nil {
		resolved.Spec.Selector = dep.Spec.Selector.DeepCopy()
	}
	s.ro = resolved
	s.status.WorkloadObservedGeneration = strconv.FormatInt(dep.Generation, 10)
	return dep, nil
}

// scaleWorkload scales the referenced Deployment down as its scaleDown mode
// says: never; onsuccess, once the rollout is healthy; progressively, as the
// rollout's pods become available. If the rollout fails, it is scaled back.
func (s *syncer) scaleWorkload(ctx context.Context, dep *appsv1.Deployment) error {
	if dep == nil || s.ro.Spec.WorkloadRef == nil {
		return nil
	}
	mode := s.ro.Spec.WorkloadRef.ScaleDown
	if mode == "" || mode == v1alpha1.ScaleDownNever {
		return nil
	}
	original := ptr.Deref(dep.Spec.Replicas, 1)
	if v, ok := dep.Annotations[originalReplicasAnnotation]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			original = int32(n)
		}
	}
	desired := s.ro.Spec.GetReplicas()
	target := ptr.Deref(dep.Spec.Replicas, 1)
	healthy := s.newRS != nil && s.stableRS != nil && s.newRS.UID == s.stableRS.UID && replicaset.Available(s.newRS, desired)
	switch {
	case s.status.Abort:
		target = original
	case mode == v1alpha1.ScaleDownOnSuccess && healthy:
		target = 0
	case mode == v1alpha1.ScaleDownProgressively && s.stableRS != nil:
		target = max(0, min(original, desired-s.stableRS.Status.AvailableReplicas))
	}
	if target == ptr.Deref(dep.Spec.Replicas, 1) {
		return nil
	}
	patch := ctrl.MergeFrom(dep.DeepCopy())
	if dep.Annotations == nil {
		dep.Annotations = map[string]string{}
	}
	if _, ok := dep.Annotations[originalReplicasAnnotation]; !ok {
		dep.Annotations[originalReplicasAnnotation] = strconv.Itoa(int(original))
	}
	dep.Spec.Replicas = ptr.To(target)
	if err := s.r.Client.Patch(ctx, dep, patch); err != nil {
		return fmt.Errorf("scaling Deployment %s to %d: %w", dep.Name, target, err)
	}
	s.event(corev1.EventTypeNormal, v1alpha1.ReasonScalingReplicaSet, "Scaled Deployment %s to %d (workloadRef scaleDown %s)", dep.Name, target, mode)
	return nil
}
