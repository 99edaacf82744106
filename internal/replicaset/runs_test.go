package replicaset

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRuns(t *testing.T) {
	rsTemplate := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", HashLabel: "abc"}, Annotations: map[string]string{"a": "1"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web:1", TerminationMessagePath: "/dev/termination-log"}}},
	}
	rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: rsTemplate}}
	copied := func(edit func(*corev1.PodTemplateSpec)) *corev1.PodTemplateSpec {
		tpl := rsTemplate.DeepCopy()
		delete(tpl.Labels, HashLabel)
		edit(tpl)
		return tpl
	}
	for _, tc := range []struct {
		name string
		tpl  *corev1.PodTemplateSpec
		want bool
	}{
		{"copied back without the hash label", copied(func(*corev1.PodTemplateSpec) {}), true},
		{"with the hash label", copied(func(t *corev1.PodTemplateSpec) { t.Labels[HashLabel] = "abc" }), false},
		{"without the defaults", copied(func(t *corev1.PodTemplateSpec) { t.Spec.Containers[0].TerminationMessagePath = "" }), false},
		{"another image", copied(func(t *corev1.PodTemplateSpec) { t.Spec.Containers[0].Image = "web:2" }), false},
		{"a label more", copied(func(t *corev1.PodTemplateSpec) { t.Labels["x"] = "y" }), false},
		{"a label less", copied(func(t *corev1.PodTemplateSpec) { delete(t.Labels, "app") }), false},
		{"another annotation", copied(func(t *corev1.PodTemplateSpec) { t.Annotations["a"] = "2" }), false},
	} {
		if got := Runs(rs, tc.tpl); got != tc.want {
			t.Errorf("%s: Runs = %v, want %v", tc.name, got, tc.want)
		}
	}
}
