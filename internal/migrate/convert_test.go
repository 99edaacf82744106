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
