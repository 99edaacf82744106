package cli_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// A routed rollout that no controller serves (uninstalled) is deleted: it
// waits on its finalizer until `ramp remove-finalizer` lets it go, which
// says where the routes were left.
func TestRemoveFinalizerOfADeletedRollout(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns, Finalizers: []string{"ramp.dev/traffic-routing"},
			Labels: map[string]string{v1alpha1.InstanceIDLabelKey: "uninstalled"}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "orphan"}},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{CanaryService: "orphan-canary", StableService: "orphan-stable",
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{}}}},
		},
	}
	ro.Spec.Template.Labels = map[string]string{"app": "orphan"}
	ro.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "example/orphan:1"}}
	if err := admin.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Status.Canary.Weights = &v1alpha1.TrafficWeights{
		Canary: v1alpha1.WeightDestination{Weight: 40, ServiceName: "orphan-canary"},
		Stable: v1alpha1.WeightDestination{Weight: 60, ServiceName: "orphan-stable"},
	}
	if err := admin.Status().Patch(t.Context(), ro, patch); err != nil {
		t.Fatal(err)
	}

	_, err := ramp(t, ns, "remove-finalizer", "orphan")
	expectError(t, err, `rollout "orphan" is not being deleted`)
	if err := admin.Delete(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	if got := rollout(t, ns, "orphan"); got.DeletionTimestamp == nil {
		t.Fatal("deleted, and not held by its finalizer")
	}
	out := mustRamp(t, ns, "remove-finalizer", "orphan")
	expectLine(t, out, `rollout "orphan" released: its traffic routers were not reset (the last weight recorded sends 40 to Service orphan-canary and 60 to Service orphan-stable: set the routes back to the stable Service by hand)`)
	err = admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "orphan"}, &v1alpha1.Rollout{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("after remove-finalizer: %v; want it gone", err)
	}
	_, err = ramp(t, ns, "remove-finalizer", "orphan")
	expectError(t, err, `not found`)
}
