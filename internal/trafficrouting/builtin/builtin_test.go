package builtin_test

import (
	"encoding/json"
	"testing"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/alb"
	"github.com/rampdev/ramp/internal/trafficrouting/builtin"
)

func TestRoutersNotBuiltInAreRefusedByName(t *testing.T) {
	ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		StableService: "s", CanaryService: "c",
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{
			Plugins: map[string]json.RawMessage{"argoproj-labs/openshift": json.RawMessage(`{}`)},
			ALB:     &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80},
		},
	}}}}
	_, err := builtin.Factory{}.Routers(t.Context(), ro)
	want := "spec.strategy.canary.trafficRouting: the plugins router is not available in this controller (built in: alb, ambassador, apisix, gatewayAPI, istio, nginx, smi, traefik)"
	if !trafficrouting.IsSpecError(err) || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestALBWithVerificationVerifies(t *testing.T) {
	ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		StableService: "s", CanaryService: "c",
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}},
	}}}}
	for _, tc := range []struct {
		f        builtin.Factory
		verifies bool
	}{{builtin.Factory{}, false}, {builtin.Factory{ALB: alb.Options{Verifier: &alb.Verifier{}}}, true}} {
		rs, err := tc.f.Routers(t.Context(), ro)
		if err != nil || len(rs) != 1 {
			t.Fatal(rs, err)
		}
		if _, ok := rs[0].(trafficrouting.WeightVerifier); ok != tc.verifies {
			t.Errorf("with verifier %v: the router verifies weights: %v", tc.f.ALB.Verifier != nil, ok)
		}
	}
}

// App Mesh is refused saying why: AWS discontinued it.
func TestAppMeshIsRefusedAsDiscontinued(t *testing.T) {
	ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{AppMesh: &v1alpha1.AppMeshTrafficRouting{}},
	}}}}
	_, err := builtin.Factory{}.Routers(t.Context(), ro)
	if !trafficrouting.IsSpecError(err) || err.Error() != builtin.AppMeshDiscontinued {
		t.Errorf("got %v", err)
	}
}
