package chaos_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func rs(name, hash, revision string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
		Labels:          map[string]string{v1alpha1.DefaultRolloutUniqueLabelKey: hash},
		Annotations:     map[string]string{v1alpha1.RevisionAnnotation: revision},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Rollout", Name: "web"}}}}
}

func active(hash string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-active", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{v1alpha1.DefaultRolloutUniqueLabelKey: hash}}}
}

// The checks can fail: each one breaks on the event sequence it forbids,
// and only on it.
func TestInvariantsBreak(t *testing.T) {
	iv := newInvariants()
	iv.replicaSet(rs("web-a", "a", "1"), false)
	iv.replicaSet(rs("web-b", "b", "2"), false)
	iv.replicaSet(rs("web-b", "b", "2"), true)
	iv.replicaSet(rs("web-b2", "b", "2"), false) // the old one is gone: fine
	if b := iv.Broken(); len(b) != 0 {
		t.Fatalf("broken on a legal sequence: %v", b)
	}
	iv.replicaSet(rs("web-b3", "b", "2"), false)
	if b := iv.Broken(); len(b) != 1 || !strings.HasPrefix(b[0], "one-replicaset-per-hash: rollout web has 2 ReplicaSets for pod-template hash b") {
		t.Fatalf("two live ReplicaSets for one hash: %v", b)
	}

	iv = newInvariants()
	iv.replicaSet(rs("web-a", "a", "1"), false)
	iv.replicaSet(rs("web-b", "b", "2"), false)
	notAborted := func(string) bool { return false }
	iv.service(active("a"), "web", notAborted)
	iv.service(active("b"), "web", notAborted)
	iv.service(active("b"), "web", func(string) bool { return true })
	iv.service(active("a"), "web", func(string) bool { return true }) // an abort may go back
	if b := iv.Broken(); len(b) != 0 {
		t.Fatalf("broken on a legal sequence: %v", b)
	}
	iv.service(active("a"), "web", notAborted)
	if b := iv.Broken(); len(b) != 1 || !strings.HasPrefix(b[0], "no-flip-back: Service chaos/web-active went back from revision 2 to revision 1") {
		t.Fatalf("a flip back: %v", b)
	}
}
