package migrate

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FuzzConvertAndStatus: whatever an Argo object holds, reading it for a
// migration never panics.
func FuzzConvertAndStatus(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","metadata":{"labels":{"rollout.argoproj.io/x":"1"}},"spec":{"strategy":{"canary":{"steps":[{"experiment":{}}],"trafficRouting":{"traefik":{},"plugins":{"a/b":{}}}}}},"status":{"phase":"Healthy","currentStepIndex":2}}`))
	f.Add([]byte(`{"apiVersion":"argoproj.io/v1alpha1","kind":"AnalysisTemplate","spec":{"metrics":[{"name":"m","provider":{"datadog":{}}}]}}`))
	f.Add([]byte(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","status":{"canary":"x","pauseConditions":[1]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var obj map[string]any
		if json.Unmarshal(b, &obj) != nil {
			return
		}
		u := &unstructured.Unstructured{Object: obj}
		_, _ = argoStatus(u)
		_ = templateRefs(obj)
		_ = Convert(cleanCopy(u).Object)
	})
}

// Routers Ramp runs convert without a note; App Mesh says AWS ended it; a
// plugin router says Ramp has none.
func TestConvertNotesOnRouters(t *testing.T) {
	for router, want := range map[string]string{
		"traefik":    "",
		"apisix":     "",
		"ambassador": "",
		"appMesh":    "spec.strategy.canary.trafficRouting.appMesh: AWS discontinued App Mesh on 30 September 2026",
		"plugins":    "spec.strategy.canary.trafficRouting.plugins.argoproj-labs/openshift: Ramp has no plugin routers",
	} {
		cfg := map[string]any{}
		if router == "plugins" {
			cfg = map[string]any{"argoproj-labs/openshift": map[string]any{}}
		}
		obj := map[string]any{"apiVersion": ArgoAPIVersion, "kind": "Rollout", "spec": map[string]any{"strategy": map[string]any{"canary": map[string]any{
			"trafficRouting": map[string]any{router: cfg},
		}}}}
		notes := Convert(obj)
		switch {
		case want == "" && len(notes) > 0:
			t.Errorf("%s: notes %v", router, notes)
		case want != "" && (len(notes) != 1 || len(notes[0]) < len(want) || notes[0][:len(want)] != want):
			t.Errorf("%s: notes %v, want one beginning %q", router, notes, want)
		}
	}
}

// An Experiment converts without a note, its template Services included;
// a canary's experiment step is noted only for weighted templates its
// router cannot serve.
func TestConvertNotesOnExperiments(t *testing.T) {
	obj := map[string]any{"apiVersion": ArgoAPIVersion, "kind": "Experiment", "spec": map[string]any{
		"templates": []any{map[string]any{"name": "a"}, map[string]any{"name": "b", "service": map[string]any{}}},
	}}
	if notes := Convert(obj); len(notes) != 0 {
		t.Errorf("notes %v", notes)
	}
	step := func(router string) map[string]any {
		return map[string]any{"apiVersion": ArgoAPIVersion, "kind": "Rollout", "spec": map[string]any{"strategy": map[string]any{"canary": map[string]any{
			"trafficRouting": map[string]any{router: map[string]any{}},
			"steps": []any{map[string]any{"experiment": map[string]any{"templates": []any{
				map[string]any{"name": "a", "specRef": "stable"},
				map[string]any{"name": "b", "specRef": "canary", "weight": int64(5)},
			}}}},
		}}}}
	}
	for _, router := range []string{"alb", "istio", "smi"} {
		if notes := Convert(step(router)); len(notes) != 0 {
			t.Errorf("%s: notes %v", router, notes)
		}
	}
	want := "spec.strategy.canary.steps[0].experiment.templates[1].weight: the nginx router cannot send traffic to experiment templates (ALB, Istio and SMI can); the rollout will be InvalidSpec"
	if notes := Convert(step("nginx")); len(notes) != 1 || notes[0] != want {
		t.Errorf("nginx: notes %v", notes)
	}
}
