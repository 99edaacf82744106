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

// An Experiment converts without a note, but for a template's Service.
func TestConvertNotesOnExperiments(t *testing.T) {
	obj := map[string]any{"apiVersion": ArgoAPIVersion, "kind": "Experiment", "spec": map[string]any{
		"templates": []any{map[string]any{"name": "a"}, map[string]any{"name": "b", "service": map[string]any{}}},
	}}
	notes := Convert(obj)
	if len(notes) != 1 || notes[0] != "spec.templates[1].service: Ramp's controller does not create Services for experiment templates yet; the experiment will end in Error" {
		t.Errorf("notes %v", notes)
	}
}
