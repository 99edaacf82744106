package gatewayapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	clustertest.Eventually(t, 60*time.Second, what, cond)
}

// startController runs ramp-controller (its built-in routers) against the
// test cluster, as its ServiceAccount, until the test ends, and returns a
// client with Ramp's types.
func startController(t *testing.T) client.Client {
	t.Helper()
	clustertest.StartController(t, shared.Config(), app.Options{WithoutAnalysisRuns: true})
	cl, err := client.New(shared.Config(), client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// canaryRollout creates the Services and a Healthy canary rollout through
// the fixture's HTTPRoute: setWeight 30, a header route, a pause. form,
// when set, rewrites its trafficRouting (the plugin form).
func canaryRollout(t *testing.T, f *fixture, cl client.Client, form ...func(*v1alpha1.RolloutTrafficRouting)) *v1alpha1.Rollout {
	t.Helper()
	for _, name := range []string{"web-stable", "web-canary"} {
		if err := cl.Create(t.Context(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}); err != nil {
			t.Fatal(err)
		}
	}
	ro := rollout(f.ns, &v1alpha1.GatewayAPITrafficRouting{HTTPRoute: "web"})
	ro.Spec.Replicas = ptr.To[int32](2)
	ro.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	ro.Spec.Template = corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/web:1"}}},
	}
	c := ro.Spec.Strategy.Canary
	c.ScaleDownDelaySeconds = ptr.To[int32](0)
	c.TrafficRouting.ManagedRoutes = []v1alpha1.MangedRoutes{{Name: "beta"}}
	for _, f := range form {
		f(c.TrafficRouting)
	}
	c.Steps = []v1alpha1.CanaryStep{
		{SetWeight: ptr.To[int32](30)},
		{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x-beta", HeaderValue: &v1alpha1.StringMatch{Exact: "on"}}}}},
		{Pause: &v1alpha1.RolloutPause{}},
	}
	if err := cl.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Healthy", func() (bool, string) {
		r := get(t, cl, ro)
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy, r.Status.Message
	})
	return ro
}

func get(t *testing.T, cl client.Client, ro *v1alpha1.Rollout) *v1alpha1.Rollout {
	t.Helper()
	got := &v1alpha1.Rollout{}
	if err := cl.Get(t.Context(), client.ObjectKeyFromObject(ro), got); err != nil {
		t.Fatal(err)
	}
	return got
}

func setImage(t *testing.T, cl client.Client, ro *v1alpha1.Rollout, image string) {
	t.Helper()
	r := get(t, cl, ro)
	patch := client.MergeFrom(r.DeepCopy())
	r.Spec.Template.Spec.Containers[0].Image = image
	if err := cl.Patch(t.Context(), r, patch); err != nil {
		t.Fatal(err)
	}
}

// pausedWithTheHeaderRule waits for the update's pause: weight 30 and the
// header rule in the route.
func pausedWithTheHeaderRule(t *testing.T, f *fixture, cl client.Client, ro *v1alpha1.Rollout) {
	t.Helper()
	eventually(t, "paused at step 3 with weight 30 and the header rule", func() (bool, string) {
		r := get(t, cl, ro)
		h, _ := f.Routes(t)
		w := f.httpWeight(t) // a TCPRoute is checked once paused
		return r.Status.Phase == v1alpha1.RolloutPhasePaused && ptr.Deref(r.Status.CurrentStepIndex, -1) == 2 && w == 30 && len(h) == 1,
			fmt.Sprintf("%s at %v, weight %d, header routes %v", r.Status.Phase, r.Status.CurrentStepIndex, w, h)
	})
}

// A canary through a Gateway API HTTPRoute, with ramp-controller and its
// built-in router: the route shows each weight and the header rule, and
// is back to 100% stable without Ramp's rule at the end.
func TestCanaryThroughAnHTTPRoute(t *testing.T) {
	f := newFixture(t).(*fixture)
	cl := startController(t)
	ro := canaryRollout(t, f, cl)
	setImage(t, cl, ro, "example/web:2")
	pausedWithTheHeaderRule(t, f, cl, ro)
	r := get(t, cl, ro)
	patch := client.MergeFrom(r.DeepCopy())
	r.Status.PauseConditions = nil
	if err := cl.Status().Patch(t.Context(), r, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "promoted: weight 0, no header rule", func() (bool, string) {
		r := get(t, cl, ro)
		h, _ := f.Routes(t)
		w := f.Weight(t)
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy && r.Status.StableRS == r.Status.CurrentPodHash && w == 0 && len(h) == 0,
			fmt.Sprintf("%s, weight %d, header routes %v", r.Status.Phase, w, h)
	})

	// The HTTPRoute deleted: the next update reports it, Degraded, and does
	// not crash.
	f.Remove(t)
	setImage(t, cl, ro, "example/web:3")
	eventually(t, "the missing route reported", func() (bool, string) {
		r := get(t, cl, ro)
		return r.Status.Phase == v1alpha1.RolloutPhaseDegraded && strings.Contains(r.Status.Message, `HTTPRoute "web" not found`), r.Status.Message
	})
}

// A canary through an HTTPRoute and a TCPRoute (experimental channel): the
// TCPRoute carries each weight too, and is back to stable at the end.
func TestCanaryThroughATCPRoute(t *testing.T) {
	f := newTCPFixture(t).(*fixture)
	cl := startController(t)
	ro := canaryRollout(t, f, cl, func(tr *v1alpha1.RolloutTrafficRouting) { tr.GatewayAPI.TCPRoute = "db" })
	setImage(t, cl, ro, "example/web:2")
	pausedWithTheHeaderRule(t, f, cl, ro)
	if w := f.tcpWeight(t); w != 30 {
		t.Fatalf("TCPRoute weight %d, want 30", w)
	}
	r := get(t, cl, ro)
	patch := client.MergeFrom(r.DeepCopy())
	r.Status.PauseConditions = nil
	if err := cl.Status().Patch(t.Context(), r, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "promoted: both routes back to stable", func() (bool, string) {
		r := get(t, cl, ro)
		w, tw := f.httpWeight(t), f.tcpWeight(t)
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy && r.Status.StableRS == r.Status.CurrentPodHash && w == 0 && tw == 0,
			fmt.Sprintf("%s, weights %d/%d", r.Status.Phase, w, tw)
	})
}

// The form Argo Rollouts users have, trafficRouting.plugins
// ["argoproj-labs/gatewayAPI"], runs with the built-in router: the same
// weights and header rule in the route; the spec keeps the user's form. A
// plugin configuration the router cannot take is InvalidSpec naming the
// field.
func TestCanaryThroughThePluginForm(t *testing.T) {
	f := newFixture(t).(*fixture)
	cl := startController(t)
	ro := canaryRollout(t, f, cl, func(tr *v1alpha1.RolloutTrafficRouting) {
		tr.GatewayAPI = nil
		tr.Plugins = map[string]json.RawMessage{"argoproj-labs/gatewayAPI": json.RawMessage(`{"httpRoute":"web","namespace":"` + f.ns + `"}`)}
	})
	setImage(t, cl, ro, "example/web:2")
	pausedWithTheHeaderRule(t, f, cl, ro)
	if r := get(t, cl, ro); r.Spec.Strategy.Canary.TrafficRouting.GatewayAPI != nil || len(r.Spec.Strategy.Canary.TrafficRouting.Plugins) != 1 {
		t.Fatalf("the spec was rewritten: %+v", r.Spec.Strategy.Canary.TrafficRouting)
	}

	bad := get(t, cl, ro)
	patch := client.MergeFrom(bad.DeepCopy())
	bad.Spec.Strategy.Canary.TrafficRouting.Plugins["argoproj-labs/gatewayAPI"] = json.RawMessage(`{"httpRoute":"web","inProgressLabelKey":"x"}`)
	if err := cl.Patch(t.Context(), bad, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "InvalidSpec naming the field", func() (bool, string) {
		r := get(t, cl, ro)
		return r.Status.Phase == v1alpha1.RolloutPhaseDegraded && strings.Contains(r.Status.Message, `plugins.argoproj-labs/gatewayAPI: json: unknown field "inProgressLabelKey"`), r.Status.Message
	})
}

// A Rollout deleted in the middle of a canary leaves the route sending
// everything to the stable Service, without Ramp's rules.
func TestDeletedRolloutResetsTheRouteToStable(t *testing.T) {
	f := newFixture(t).(*fixture)
	cl := startController(t)
	ro := canaryRollout(t, f, cl)
	if r := get(t, cl, ro); !slices.Contains(r.Finalizers, "ramp.dev/traffic-routing") {
		t.Errorf("finalizers %v", r.Finalizers)
	}
	setImage(t, cl, ro, "example/web:2")
	pausedWithTheHeaderRule(t, f, cl, ro)
	if err := cl.Delete(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rollout gone, the route reset", func() (bool, string) {
		err := cl.Get(t.Context(), client.ObjectKeyFromObject(ro), &v1alpha1.Rollout{})
		h, m := f.Routes(t)
		w := f.Weight(t)
		return apierrors.IsNotFound(err) && w == 0 && len(h)+len(m) == 0, fmt.Sprintf("rollout %v, weight %d, routes %v %v", err, w, h, m)
	})
}
