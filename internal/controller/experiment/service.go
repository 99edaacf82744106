package experiment

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;delete

// serviceName is the Service of a template that asks for one: its own
// name, or the ReplicaSet's.
func (x *run) serviceName(t *v1alpha1.TemplateSpec) string {
	if t.Service != nil && t.Service.Name != "" {
		return t.Service.Name
	}
	return x.rsName(t.Name)
}

// errForeignService is a template's Service name taken by a Service the
// experiment does not own: the experiment cannot run as asked.
type errForeignService struct{ msg string }

func (e *errForeignService) Error() string { return e.msg }

// foreignService says which template's Service name is taken by a Service
// the experiment does not own (empty when none is), before anything is
// created.
func (x *run) foreignService(ctx context.Context) (string, error) {
	for i := range x.exp.Spec.Templates {
		t := &x.exp.Spec.Templates[i]
		if t.Service == nil {
			continue
		}
		svc, err := x.getService(ctx, x.serviceName(t))
		if err != nil {
			return "", err
		}
		if svc != nil && !x.owns(svc) {
			return fmt.Sprintf("spec.templates[%d].service: Service %s exists and is not this experiment's", i, svc.Name), nil
		}
	}
	return "", nil
}

// service makes the Service of template t exist: it selects the template's
// pods by their pod-template hash and serves the containers' ports. It is
// labelled ramp.dev/managed so the controller's cache holds it.
func (x *run) service(ctx context.Context, i int, t *v1alpha1.TemplateSpec, rs *appsv1.ReplicaSet) (string, error) {
	if t.Service == nil {
		return "", nil
	}
	name := x.serviceName(t)
	svc, err := x.getService(ctx, name)
	switch {
	case err != nil:
		return "", err
	case svc != nil && !x.owns(svc):
		return "", &errForeignService{fmt.Sprintf("spec.templates[%d].service: Service %s exists and is not this experiment's", i, name)}
	case svc != nil:
		return name, nil
	}
	svc = &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: x.exp.Namespace,
			Labels: map[string]string{
				v1alpha1.ManagedLabelKey:                "true",
				v1alpha1.ExperimentNameLabelKey:         x.exp.Name,
				v1alpha1.ExperimentTemplateNameLabelKey: t.Name,
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(x.exp, v1alpha1.SchemeGroupVersion.WithKind("Experiment"))},
		},
		Spec: corev1.ServiceSpec{Selector: rs.Spec.Selector.MatchLabels, Ports: servicePorts(&rs.Spec.Template)},
	}
	if err := x.r.Client.Create(ctx, svc); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Created meanwhile: by a reconcile the cache has not seen yet,
			// or by someone else.
			if svc, err = x.getService(ctx, name); err != nil || svc == nil || x.owns(svc) {
				return name, err
			}
			return "", &errForeignService{fmt.Sprintf("spec.templates[%d].service: Service %s exists and is not this experiment's", i, name)}
		}
		return "", fmt.Errorf("creating Service %s: %w", name, err)
	}
	x.event(corev1.EventTypeNormal, "ServiceCreated", "Created Service %s for template %s", name, t.Name)
	return name, nil
}

// getService reads a Service from the cache, which holds the Services
// Ramp manages, or else from the API server (a Service of the user's under
// the name asked for). Nil when there is none.
func (x *run) getService(ctx context.Context, name string) (*corev1.Service, error) {
	key := client.ObjectKey{Namespace: x.exp.Namespace, Name: name}
	svc := &corev1.Service{}
	err := x.r.Client.Get(ctx, key, svc)
	if apierrors.IsNotFound(err) && x.r.APIReader != nil {
		err = x.r.APIReader.Get(ctx, key, svc)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Service %s: %w", name, err)
	}
	return svc, nil
}

// owns reports whether the experiment controls obj.
func (x *run) owns(obj metav1.Object) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == x.exp.UID
}

// servicePorts are the ports of a template's containers, as a Service
// serves them.
func servicePorts(tpl *corev1.PodTemplateSpec) []corev1.ServicePort {
	var ports []corev1.ServicePort
	seen := map[int32]bool{}
	for _, c := range tpl.Spec.Containers {
		for _, p := range c.Ports {
			if seen[p.ContainerPort] {
				continue
			}
			seen[p.ContainerPort] = true
			ports = append(ports, corev1.ServicePort{
				Name: p.Name, Protocol: p.Protocol, Port: p.ContainerPort, TargetPort: intstr.FromInt32(p.ContainerPort),
			})
		}
	}
	return ports
}

// deleteServices removes the Services the experiment created, at its end.
func (x *run) deleteServices(ctx context.Context) error {
	for i := range x.exp.Spec.Templates {
		t := &x.exp.Spec.Templates[i]
		if t.Service == nil {
			continue
		}
		svc := &corev1.Service{}
		err := x.r.Client.Get(ctx, client.ObjectKey{Namespace: x.exp.Namespace, Name: x.serviceName(t)}, svc)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading Service %s: %w", x.serviceName(t), err)
		}
		if ref := metav1.GetControllerOf(svc); ref == nil || ref.UID != x.exp.UID || svc.DeletionTimestamp != nil {
			continue
		}
		if err := x.r.Client.Delete(ctx, svc, client.Preconditions{UID: &svc.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting Service %s: %w", svc.Name, err)
		}
		x.event(corev1.EventTypeNormal, "ServiceDeleted", "Deleted Service %s of template %s", svc.Name, t.Name)
	}
	for i := range x.status.TemplateStatuses {
		x.status.TemplateStatuses[i].ServiceName = ""
	}
	return nil
}
