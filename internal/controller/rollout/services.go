package rollout

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// service reads a Service the rollout names. A missing Service makes the
// spec unusable: it is reported, not created. The controller caches only
// Services labelled ramp.dev/managed; one it has not labelled yet is read
// from the API server and labelled.
func (s *syncer) service(ctx context.Context, field, name string) (*corev1.Service, error) {
	svc := &corev1.Service{}
	key := types.NamespacedName{Namespace: s.ro.Namespace, Name: name}
	err := s.r.Client.Get(ctx, key, svc)
	if apierrors.IsNotFound(err) && s.r.APIReader != nil {
		if err = s.r.APIReader.Get(ctx, key, svc); err == nil && svc.Labels[v1alpha1.ManagedLabelKey] != "true" {
			patch := ctrl.MergeFrom(svc.DeepCopy())
			if svc.Labels == nil {
				svc.Labels = map[string]string{}
			}
			svc.Labels[v1alpha1.ManagedLabelKey] = "true"
			err = s.r.Client.Patch(ctx, svc, patch)
		}
	}
	if apierrors.IsNotFound(err) {
		return nil, missingReference(v1alpha1.ReasonServiceReferenceError, fmt.Sprintf("%s: Service %q not found in namespace %s", field, name, s.ro.Namespace))
	}
	if err != nil {
		return nil, fmt.Errorf("reading Service %s: %w", name, err)
	}
	if owner := svc.Annotations[v1alpha1.ManagedByRolloutsKey]; owner != "" && owner != s.ro.Name {
		return nil, &stopped{reason: v1alpha1.ReasonServiceReferenceError, msg: fmt.Sprintf("%s: Service %q is managed by rollout %q", field, name, owner)}
	}
	return svc, nil
}

// selectorHash is the pod-template hash a Service selects, or "".
func selectorHash(svc *corev1.Service) string {
	return svc.Spec.Selector[replicaset.HashLabel]
}

// switchService points svc at the ReplicaSet with hash, and marks it as
// managed by the rollout. It writes only when something changes.
func (s *syncer) switchService(ctx context.Context, svc *corev1.Service, hash string) error {
	if selectorHash(svc) == hash && svc.Annotations[v1alpha1.ManagedByRolloutsKey] == s.ro.Name {
		return nil
	}
	from := selectorHash(svc)
	// On the Service as read: a switch decided on a copy that is out of
	// date (a second leader's cache, for a moment) is refused, not made.
	patch := ctrl.MergeFromWithOptions(svc.DeepCopy(), ctrl.MergeFromWithOptimisticLock{})
	if svc.Spec.Selector == nil {
		svc.Spec.Selector = map[string]string{}
	}
	svc.Spec.Selector[replicaset.HashLabel] = hash
	if svc.Annotations == nil {
		svc.Annotations = map[string]string{}
	}
	svc.Annotations[v1alpha1.ManagedByRolloutsKey] = s.ro.Name
	if err := s.r.Client.Patch(ctx, svc, patch); err != nil {
		return fmt.Errorf("switching Service %s to %s: %w", svc.Name, hash, err)
	}
	if from != hash {
		s.event(corev1.EventTypeNormal, "SwitchService", "Switched selector for Service %s from %q to %q", svc.Name, from, hash)
	}
	return nil
}
