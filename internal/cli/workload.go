package cli

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// editTemplate changes the pod template of a rollout: its own, or, with a
// workloadRef, the referenced Deployment's, ReplicaSet's or PodTemplate's
// (as Argo's plugin does: the controller follows the workload). edit says
// what it did; it is called again on a conflict, with the object read
// again.
func (e *env) editTemplate(ctx context.Context, name string, edit func(ro *v1alpha1.Rollout, tpl *corev1.PodTemplateSpec) (string, error)) error {
	ro, err := e.rollout(ctx, name)
	if err != nil {
		return err
	}
	if ro.Spec.WorkloadRef == nil {
		return e.act(ctx, name, func(ro *v1alpha1.Rollout) (string, error) {
			if ro.Spec.WorkloadRef != nil {
				return "", fmt.Errorf("rollout %q now takes its template from a workloadRef: run it again", ro.Name)
			}
			return edit(ro, &ro.Spec.Template)
		})
	}
	cl, err := e.client()
	if err != nil {
		return err
	}
	ref := ro.Spec.WorkloadRef
	var msg string
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		obj, tpl := workloadObject(ref.Kind)
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: ref.Name}, obj); err != nil {
			return explain(err, kindOf(ref.Kind), ref.Name, ro.Namespace)
		}
		before := obj.DeepCopyObject().(client.Object)
		if msg, err = edit(ro, tpl); err != nil {
			return err
		}
		return cl.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.out, "%s (in %s %q, its workloadRef)\n", msg, kindOf(ref.Kind), ref.Name)
	return err
}

// workloadObject is an empty object of a workloadRef's kind and a pointer
// to its pod template.
func workloadObject(kind string) (client.Object, *corev1.PodTemplateSpec) {
	switch kind {
	case v1alpha1.WorkloadKindReplicaSet:
		rs := &appsv1.ReplicaSet{}
		return rs, &rs.Spec.Template
	case v1alpha1.WorkloadKindPodTemplate:
		pt := &corev1.PodTemplate{}
		return pt, &pt.Template
	}
	dep := &appsv1.Deployment{}
	return dep, &dep.Spec.Template
}

func kindOf(kind string) string {
	if kind == "" {
		return v1alpha1.WorkloadKindDeployment
	}
	return kind
}
