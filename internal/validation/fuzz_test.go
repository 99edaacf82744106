package validation

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// The fuzz targets decode arbitrary JSON into each kind and validate it: the
// validator must never panic. Seeds are the samples and the invalid cases;
// `make fuzz` runs them for longer.

func seed(f *testing.F, kinds ...string) {
	want := map[string]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	for _, pattern := range []string{"../../config/samples/*.yaml", "../../config/crd/testdata/invalid/*.yaml", "../../config/crd/testdata/*.yaml"} {
		for _, m := range readManifests(f, pattern) {
			if want[m.kind] {
				f.Add(m.json)
			}
		}
	}
}

func FuzzValidateRollout(f *testing.F) {
	seed(f, "Rollout")
	f.Fuzz(func(t *testing.T, data []byte) {
		var ro v1alpha1.Rollout
		if json.Unmarshal(data, &ro) != nil {
			return
		}
		for _, e := range Rollout(&ro) {
			if e.Field == "" {
				t.Fatalf("violation without a field path: %v", e)
			}
		}
	})
}

func FuzzValidateAnalysisTemplate(f *testing.F) {
	seed(f, "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment")
	f.Fuzz(func(t *testing.T, data []byte) {
		var tmpl v1alpha1.AnalysisTemplate
		if json.Unmarshal(data, &tmpl) == nil {
			check(t, AnalysisTemplate(&tmpl))
		}
		var run v1alpha1.AnalysisRun
		if json.Unmarshal(data, &run) == nil {
			check(t, AnalysisRun(&run))
		}
		var exp v1alpha1.Experiment
		if json.Unmarshal(data, &exp) == nil {
			check(t, Experiment(&exp))
		}
	})
}

func check(t *testing.T, errs field.ErrorList) {
	t.Helper()
	for _, e := range errs {
		if e.Field == "" {
			t.Fatalf("violation without a field path: %v", e)
		}
	}
}
