package operate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Edit changes a rollout's pod template and says what it did; it is called
// again on a conflict, with the objects read again.
type Edit func(ro *v1alpha1.Rollout, tpl *corev1.PodTemplateSpec) (string, error)

// EditTemplate changes the pod template of a rollout: its own, or, with a
// workloadRef, the referenced Deployment's, ReplicaSet's or PodTemplate's
// (as Argo's plugin does: the controller follows the workload). seen is as
// in Do: the edit is refused once the rollout has left the revision the
// user saw.
func EditTemplate(ctx context.Context, cl client.Client, key client.ObjectKey, seen *State, edit Edit) (string, error) {
	ro := &v1alpha1.Rollout{}
	if err := cl.Get(ctx, key, ro); err != nil {
		return "", Explain(err, "rollout", key.Name, key.Namespace)
	}
	if ro.Spec.WorkloadRef == nil {
		return Do(ctx, cl, key, Action{Change: func(ro *v1alpha1.Rollout) (string, error) {
			if ro.Spec.WorkloadRef != nil {
				return "", fmt.Errorf("rollout %q now takes its template from a workloadRef: run it again", ro.Name)
			}
			return edit(ro, &ro.Spec.Template)
		}}, seen)
	}
	if now := StateOf(ro); seen != nil && !SameRevision(*seen, now) {
		return "", &MovedOnError{Name: key.Name, From: *seen, To: now}
	}
	ref := ro.Spec.WorkloadRef
	var msg string
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		obj, tpl := workloadObject(ref.Kind)
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: ref.Name}, obj); err != nil {
			return Explain(err, KindOf(ref.Kind), ref.Name, ro.Namespace)
		}
		before := obj.DeepCopyObject().(client.Object)
		var err error
		if msg, err = edit(ro, tpl); err != nil {
			return err
		}
		return cl.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (in %s %q, its workloadRef)", msg, KindOf(ref.Kind), ref.Name), nil
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

// KindOf is a workloadRef's kind, Deployment when unset.
func KindOf(kind string) string {
	if kind == "" {
		return v1alpha1.WorkloadKindDeployment
	}
	return kind
}

// SetImages sets container images, given as CONTAINER=IMAGE ("*" names
// every container), which starts an update.
func SetImages(pairs []string) Edit {
	return func(ro *v1alpha1.Rollout, tpl *corev1.PodTemplateSpec) (string, error) {
		var done []string
		for _, kv := range pairs {
			name, img, ok := strings.Cut(kv, "=")
			if !ok || name == "" || img == "" {
				return "", fmt.Errorf("%q: expected CONTAINER=IMAGE", kv)
			}
			if !setImage(&tpl.Spec, name, img) {
				return "", fmt.Errorf("rollout %q has no container %q", ro.Name, name)
			}
			done = append(done, name+"="+img)
		}
		return fmt.Sprintf("rollout %q image updated: %s", ro.Name, strings.Join(done, " ")), nil
	}
}

func setImage(spec *corev1.PodSpec, name, image string) bool {
	found := false
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			if list[i].Name == name || name == "*" {
				list[i].Image = image
				found = true
			}
		}
	}
	return found
}

// Undo rolls the template back to revision to of info, or to the newest
// revision before the current one when to is 0.
func Undo(info *Info, to int) Edit {
	return func(ro *v1alpha1.Rollout, tpl *corev1.PodTemplateSpec) (string, error) {
		rs, n, err := UndoTarget(info, to)
		if err != nil {
			return "", err
		}
		back := rs.Spec.Template.DeepCopy()
		delete(back.Labels, v1alpha1.DefaultRolloutUniqueLabelKey)
		*tpl = *back
		return fmt.Sprintf("rollout %q rolled back to revision %d", ro.Name, n), nil
	}
}

// UndoTarget is the ReplicaSet of revision to, or of the newest revision
// before the current one.
func UndoTarget(info *Info, to int) (*appsv1.ReplicaSet, int, error) {
	current := info.Rollout.Status.CurrentPodHash
	var known []string
	for _, rev := range info.Revisions { // newest first
		known = append(known, strconv.Itoa(rev.Number))
		switch {
		case to == 0 && rev.Hash != current:
			return rev.RS, rev.Number, nil
		case to != 0 && rev.Number == to:
			if rev.Hash == current {
				return nil, 0, fmt.Errorf("revision %d is the current one", to)
			}
			return rev.RS, rev.Number, nil
		}
	}
	if to != 0 {
		return nil, 0, fmt.Errorf("rollout %q has no revision %d (it has %s)", info.Rollout.Name, to, strings.Join(known, ", "))
	}
	return nil, 0, fmt.Errorf("rollout %q has no earlier revision to go back to", info.Rollout.Name)
}
