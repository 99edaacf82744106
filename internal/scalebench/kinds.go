package scalebench

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// kind is what the fleet is made of: Ramp's Rollouts, or, for a baseline
// of what the cluster itself costs, plain Deployments that the
// kube-controller-manager rolls out.
type kind struct {
	name string
	// proto and list are an empty object and list of the kind.
	proto func() client.Object
	list  func() client.ObjectList
	// member is the fleet's member called name.
	member func(name string) client.Object
	// done says whether obj finished its release, running image (any,
	// when empty).
	done func(obj client.Object, image string) bool
	// status sums obj up for progress reports.
	status func(obj client.Object) string
	// podHash is the pod-template hash label of obj's current pods.
	podHash func(obj client.Object) string
}

// Kinds a fleet can be made of.
const (
	KindRollouts    = "rollouts"
	KindDeployments = "deployments"
)

func kindOf(name string) (kind, error) {
	switch name {
	case "", KindRollouts:
		return rollouts, nil
	case KindDeployments:
		return deployments, nil
	}
	return kind{}, fmt.Errorf("fleet kind %q: want %s or %s", name, KindRollouts, KindDeployments)
}

func template(name string) (*metav1.LabelSelector, corev1.PodTemplateSpec) {
	labels := map[string]string{"app": name}
	return &metav1.LabelSelector{MatchLabels: labels}, corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app:1"}}},
	}
}

var rollouts = kind{
	name:  KindRollouts,
	proto: func() client.Object { return &v1alpha1.Rollout{} },
	list:  func() client.ObjectList { return &v1alpha1.RolloutList{} },
	member: func(name string) client.Object {
		sel, tmpl := template(name)
		return &v1alpha1.Rollout{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name},
			Spec: v1alpha1.RolloutSpec{
				Replicas: ptr.To[int32](1), Selector: sel, Template: tmpl,
				Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
					Steps: []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](50)}},
				}},
			},
		}
	},
	done: func(obj client.Object, image string) bool {
		ro := obj.(*v1alpha1.Rollout)
		if ro.Status.Phase != v1alpha1.RolloutPhaseHealthy || ro.Status.ObservedGeneration != fmt.Sprint(ro.Generation) ||
			ro.Status.StableRS == "" || ro.Status.StableRS != ro.Status.CurrentPodHash {
			return false
		}
		return image == "" || ro.Spec.Template.Spec.Containers[0].Image == image
	},
	status: func(obj client.Object) string {
		ro := obj.(*v1alpha1.Rollout)
		return string(ro.Status.Phase) + ": " + ro.Status.Message
	},
	podHash: func(obj client.Object) string { return obj.(*v1alpha1.Rollout).Status.CurrentPodHash },
}

var deployments = kind{
	name:  KindDeployments,
	proto: func() client.Object { return &appsv1.Deployment{} },
	list:  func() client.ObjectList { return &appsv1.DeploymentList{} },
	member: func(name string) client.Object {
		sel, tmpl := template(name)
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: sel, Template: tmpl},
		}
	},
	done: func(obj client.Object, image string) bool {
		d := obj.(*appsv1.Deployment)
		s := d.Status
		if s.ObservedGeneration != d.Generation || s.UpdatedReplicas != 1 || s.Replicas != 1 || s.AvailableReplicas != 1 {
			return false
		}
		return image == "" || d.Spec.Template.Spec.Containers[0].Image == image
	},
	status: func(obj client.Object) string {
		s := obj.(*appsv1.Deployment).Status
		return fmt.Sprintf("replicas %d, updated %d, available %d", s.Replicas, s.UpdatedReplicas, s.AvailableReplicas)
	},
	podHash: func(client.Object) string { return "" },
}
