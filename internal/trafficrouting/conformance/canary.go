package conformance

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	kptr "k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// Canary is the end-to-end test every router gets: ramp-controller (its
// built-in routers, as its ServiceAccount) walks a canary through the
// router's objects on the in-process cluster.
type Canary struct {
	// Namespace holds the router's objects, made by the test.
	Namespace string
	// Routing is the rollout's trafficRouting block.
	Routing v1alpha1.RolloutTrafficRouting
	// Weight reads the canary weight the router's objects show now.
	Weight func(t *testing.T) int32
	// Options are the controller's (flags such as an API version).
	Options app.Options
}

// Run creates the stable and canary Services and a canary rollout with the
// steps setWeight 30, pause; updates it; and checks that the objects show
// 30 at the pause and 0 once it is promoted and Healthy.
func (c Canary) Run(t *testing.T, cfg *rest.Config) {
	t.Helper()
	c.Options.WithoutAnalysisRuns = true
	clustertest.StartController(t, rest.CopyConfig(cfg), c.Options)
	cl, err := client.New(rest.CopyConfig(cfg), client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web-stable", "web-canary"} {
		if err := cl.Create(t.Context(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}); err != nil {
			t.Fatal(err)
		}
	}
	routing := c.Routing
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: c.Namespace},
		Spec: v1alpha1.RolloutSpec{
			Replicas: kptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/web:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				StableService: "web-stable", CanaryService: "web-canary",
				ScaleDownDelaySeconds: kptr.To[int32](0),
				TrafficRouting:        &routing,
				Steps:                 []v1alpha1.CanaryStep{{SetWeight: kptr.To[int32](30)}, {Pause: &v1alpha1.RolloutPause{}}},
			}},
		},
	}
	if err := cl.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	get := func() *v1alpha1.Rollout {
		got := &v1alpha1.Rollout{}
		if err := cl.Get(t.Context(), client.ObjectKeyFromObject(ro), got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	eventually := func(what string, cond func() (bool, string)) {
		t.Helper()
		clustertest.Eventually(t, 60*time.Second, what, cond)
	}
	eventually("Healthy", func() (bool, string) {
		r := get()
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy, r.Status.Message
	})
	r := get()
	patch := client.MergeFrom(r.DeepCopy())
	r.Spec.Template.Spec.Containers[0].Image = "example/web:2"
	if err := cl.Patch(t.Context(), r, patch); err != nil {
		t.Fatal(err)
	}
	eventually("paused at step 1 with weight 30", func() (bool, string) {
		r := get()
		w := c.Weight(t)
		return r.Status.Phase == v1alpha1.RolloutPhasePaused && kptr.Deref(r.Status.CurrentStepIndex, -1) == 1 && w == 30,
			fmt.Sprintf("%s at %v (%s), weight %d", r.Status.Phase, kptr.Deref(r.Status.CurrentStepIndex, -1), r.Status.Message, w)
	})
	r = get()
	patch = client.MergeFrom(r.DeepCopy())
	r.Status.PauseConditions = nil
	if err := cl.Status().Patch(t.Context(), r, patch); err != nil {
		t.Fatal(err)
	}
	eventually("promoted: Healthy, weight 0", func() (bool, string) {
		r := get()
		w := c.Weight(t)
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy && r.Status.StableRS == r.Status.CurrentPodHash && w == 0,
			fmt.Sprintf("%s (%s), weight %d", r.Status.Phase, r.Status.Message, w)
	})
}
