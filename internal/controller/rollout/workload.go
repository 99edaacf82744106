package rollout

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// WorkloadRefLabel marks a Deployment, ReplicaSet or PodTemplate that a
// Rollout takes its template from; its value is the name of the first
// Rollout that read it. The controller caches only objects of those kinds
// with this label, and finds the Rollouts that name one by an index.
const WorkloadRefLabel = "ramp.dev/workload-ref"

// originalReplicasAnnotation keeps a referenced workload's size from
// before Ramp scaled it down, to scale it back if the rollout fails.
const originalReplicasAnnotation = "rollout.ramp.dev/original-replicas"

// workload is the object spec.workloadRef names.
type workload struct {
	obj ctrl.Object
	// replicas is the object's spec.replicas; nil for a PodTemplate,
	// which runs no pods.
	replicas **int32
}

// newWorkload is an empty object of the kind a workloadRef names.
func newWorkload(kind string) workload {
	switch kind {
	case v1alpha1.WorkloadKindReplicaSet:
		rs := &appsv1.ReplicaSet{}
		return workload{obj: rs, replicas: &rs.Spec.Replicas}
	case v1alpha1.WorkloadKindPodTemplate:
		return workload{obj: &corev1.PodTemplate{}}
	default:
		dep := &appsv1.Deployment{}
		return workload{obj: dep, replicas: &dep.Spec.Replicas}
	}
}

// template and selector are what the rollout takes from the workload (a
// PodTemplate has no selector).
func (w workload) template() (*corev1.PodTemplateSpec, *metav1.LabelSelector) {
	switch o := w.obj.(type) {
	case *appsv1.ReplicaSet:
		return &o.Spec.Template, o.Spec.Selector
	case *corev1.PodTemplate:
		return &o.Template, nil
	case *appsv1.Deployment:
		return &o.Spec.Template, o.Spec.Selector
	}
	return nil, nil
}

// kind names the workload for messages.
func (w workload) kind() string {
	switch w.obj.(type) {
	case *appsv1.ReplicaSet:
		return v1alpha1.WorkloadKindReplicaSet
	case *corev1.PodTemplate:
		return v1alpha1.WorkloadKindPodTemplate
	}
	return v1alpha1.WorkloadKindDeployment
}

// resolveWorkload takes the pod template (and, when the rollout has none,
// the selector) from the Deployment, ReplicaSet or PodTemplate
// spec.workloadRef names. The rollout in s is replaced by a copy that
// holds them; the stored object is unchanged.
func (s *syncer) resolveWorkload(ctx context.Context) (*workload, error) {
	ref := s.ro.Spec.WorkloadRef
	key := ctrl.ObjectKey{Namespace: s.ro.Namespace, Name: ref.Name}
	w := newWorkload(ref.Kind)
	var cached ctrl.Reader = s.r.Client
	if _, ok := w.obj.(*appsv1.ReplicaSet); ok {
		// The manager's cache holds only Ramp's own ReplicaSets.
		cached = s.r.ReferencedReplicaSets
		if cached == nil {
			cached = s.r.APIReader
		}
	}
	err := cached.Get(ctx, key, w.obj)
	if apierrors.IsNotFound(err) && s.r.APIReader != nil {
		// Not labelled yet, so not cached: read it, then label it.
		err = s.r.APIReader.Get(ctx, key, w.obj)
		if _, labelled := w.obj.GetLabels()[WorkloadRefLabel]; err == nil && !labelled {
			patch := ctrl.MergeFrom(w.obj.DeepCopyObject().(ctrl.Object))
			labels := w.obj.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[WorkloadRefLabel] = s.ro.Name
			w.obj.SetLabels(labels)
			err = s.r.Client.Patch(ctx, w.obj, patch)
		}
	}
	if apierrors.IsNotFound(err) {
		return nil, missingReference(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("spec.workloadRef: %s %q not found in namespace %s", w.kind(), ref.Name, s.ro.Namespace))
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", w.kind(), ref.Name, err)
	}
	template, selector := w.template()
	resolved := s.ro.DeepCopy()
	resolved.Spec.Template = *template.DeepCopy()
	if resolved.Spec.Selector == nil {
		resolved.Spec.Selector = selector.DeepCopy()
	}
	s.ro = resolved
	s.status.WorkloadObservedGeneration = strconv.FormatInt(w.obj.GetGeneration(), 10)
	return &w, nil
}

// scaleWorkload scales the referenced Deployment or ReplicaSet down as its
// scaleDown mode says: never; onsuccess, once the rollout is healthy;
// progressively, as the rollout's pods become available. If the rollout
// fails, it is scaled back.
func (s *syncer) scaleWorkload(ctx context.Context, w *workload) error {
	if w == nil || w.replicas == nil || s.ro.Spec.WorkloadRef == nil {
		return nil
	}
	mode := s.ro.Spec.WorkloadRef.ScaleDown
	if mode == "" || mode == v1alpha1.ScaleDownNever {
		return nil
	}
	obj := w.obj
	current := ptr.Deref(*w.replicas, 1)
	original := current
	if v, ok := obj.GetAnnotations()[originalReplicasAnnotation]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			original = int32(n)
		}
	}
	desired := s.ro.Spec.GetReplicas()
	target := current
	healthy := s.newRS != nil && s.stableRS != nil && s.newRS.UID == s.stableRS.UID && replicaset.Available(s.newRS, desired)
	switch {
	case s.status.Abort:
		target = original
	case mode == v1alpha1.ScaleDownOnSuccess && healthy:
		target = 0
	case mode == v1alpha1.ScaleDownProgressively && s.stableRS != nil:
		target = max(0, min(original, desired-s.stableRS.Status.AvailableReplicas))
	}
	if target == current {
		return nil
	}
	patch := ctrl.MergeFrom(obj.DeepCopyObject().(ctrl.Object))
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	if _, ok := annotations[originalReplicasAnnotation]; !ok {
		annotations[originalReplicasAnnotation] = strconv.Itoa(int(original))
	}
	obj.SetAnnotations(annotations)
	*w.replicas = ptr.To(target)
	if err := s.r.Client.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("scaling %s %s to %d: %w", w.kind(), obj.GetName(), target, err)
	}
	s.event(corev1.EventTypeNormal, v1alpha1.ReasonScalingReplicaSet, "Scaled %s %s to %d (workloadRef scaleDown %s)", w.kind(), obj.GetName(), target, mode)
	return nil
}
