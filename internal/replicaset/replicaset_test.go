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
}

// TestTemplateHashIsArgoRollouts: the hash names ReplicaSets that outlive
// the process and that `ramp migrate` takes over from Argo Rollouts, so it is
// Argo's. 7bb4fbc896 is the value Argo Rollouts' own hash test pins for this
// template (the hash of its controllers up to 1.8); the collision-count values
// pin the 8-byte encoding of the count (checked by hand: FNV-1a of the JSON
// and the count as 8 little-endian bytes).
func TestTemplateHashIsArgoRollouts(t *testing.T) {
	red := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"name": "red"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "red", Image: "red", ImagePullPolicy: corev1.PullAlways,
				TerminationMessagePath: corev1.TerminationMessagePathDefault,
			}},
			DNSPolicy: corev1.DNSClusterFirst, RestartPolicy: corev1.RestartPolicyAlways,
			SecurityContext: &corev1.PodSecurityContext{},
		},
	}
	for _, c := range []struct {
		collisions *int32
		want       string
	}{{nil, "7bb4fbc896"}, {ptr.To[int32](1), collision1}, {ptr.To[int32](2), collision2}} {
		if got := TemplateHash(&red, c.collisions); got != c.want {
			t.Errorf("collision count %v: hash %s, want %s", c.collisions, got, c.want)
		}
	}
	// A name or a creation time in the template is encoded where Argo's
	// types put it.
	named := red.DeepCopy()
	named.Name = "x"
	if TemplateHash(named, nil) == TemplateHash(&red, nil) {
		t.Error("the template's name does not change the hash")
	}
}

const (
	collision1 = "7db7d79d7c"
	collision2 = "5579974fc8"
)

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
