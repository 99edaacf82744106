package replicaset

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func rollout(image string) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns", UID: "uid-1"},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "shop"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
		},
	}
}

func TestTemplateHashIsStableAndSensitive(t *testing.T) {
	a, b := rollout("shop:1"), rollout("shop:1")
	if TemplateHash(&a.Spec.Template, nil) != TemplateHash(&b.Spec.Template, nil) {
		t.Fatal("equal templates hash differently")
	}
	c := rollout("shop:2")
	if TemplateHash(&a.Spec.Template, nil) == TemplateHash(&c.Spec.Template, nil) {
		t.Fatal("different templates hash alike")
	}
	if TemplateHash(&a.Spec.Template, nil) == TemplateHash(&a.Spec.Template, ptr.To[int32](1)) {
		t.Fatal("collision count does not change the hash")
	}
	// A golden value: the hash names ReplicaSets that outlive the process,
	// so it must not change between releases.
	if got := TemplateHash(&a.Spec.Template, nil); got != goldenHash {
		t.Fatalf("hash %s, want %s", got, goldenHash)
	}
}

const goldenHash = "86d74fb498"

func TestNewReplicaSet(t *testing.T) {
	ro := rollout("shop:1")
	h := TemplateHash(&ro.Spec.Template, nil)
	rs := New(ro, h, 4)
	if rs.Name != "shop-"+h || rs.Labels[HashLabel] != h || rs.Spec.Template.Labels[HashLabel] != h || rs.Spec.Selector.MatchLabels[HashLabel] != h {
		t.Fatalf("names and labels: %+v", rs.ObjectMeta)
	}
	if ro.Spec.Template.Labels[HashLabel] != "" || ro.Spec.Selector.MatchLabels[HashLabel] != "" {
		t.Fatal("New changed the rollout")
	}
	if Revision(rs) != 4 || Replicas(rs) != 0 || rs.OwnerReferences[0].UID != "uid-1" || !*rs.OwnerReferences[0].Controller {
		t.Fatalf("revision, size or owner: %+v", rs)
	}
	if !SameTemplate(rs, &ro.Spec.Template) || SameTemplate(rs, &rollout("shop:2").Spec.Template) {
		t.Fatal("SameTemplate")
	}
}
