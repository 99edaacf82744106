package validation

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/manifest"
)

// doc is one manifest document, as JSON, with the "# want:" lines of its
// file.
type doc struct {
	name string
	kind string
	json []byte
	want []string
}

func readManifests(t testing.TB, pattern string) []doc {
	t.Helper()
	docs, err := manifest.ReadFiles(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []doc
	for _, d := range docs {
		j, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, doc{name: d.Source + "/" + d.Name(), kind: d.Kind(), json: j, want: wantLines(t, filepath.Join(filepath.Dir(pattern), strings.Split(d.Source, "#")[0]))})
	}
	return out
}

// wantLines returns the "# want: ..." lines of a test case file.
func wantLines(t testing.TB, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(string(b), "\n") {
		if w, ok := strings.CutPrefix(line, "# want: "); ok {
			want = append(want, w)
		}
	}
	return want
}

// validate decodes a manifest into its Go type and validates it.
func validate(kind string, data []byte) (field.ErrorList, error) {
	switch kind {
	case "Rollout":
		var o v1alpha1.Rollout
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, err
		}
		return Rollout(&o), nil
	case "AnalysisTemplate":
		var o v1alpha1.AnalysisTemplate
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, err
		}
		return AnalysisTemplate(&o), nil
	case "ClusterAnalysisTemplate":
		var o v1alpha1.ClusterAnalysisTemplate
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, err
		}
		return ClusterAnalysisTemplate(&o), nil
	case "AnalysisRun":
		var o v1alpha1.AnalysisRun
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, err
		}
		return AnalysisRun(&o), nil
	case "Experiment":
		var o v1alpha1.Experiment
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, err
		}
		return Experiment(&o), nil
	}
	return nil, errors.New("unknown kind " + kind)
}

func TestSamplesAreValid(t *testing.T) {
	docs := append(readManifests(t, "../../config/samples/*.yaml"), readManifests(t, "../../config/crd/testdata/argo-rollouts-examples.yaml")...)
	for _, m := range docs {
		t.Run(m.name, func(t *testing.T) {
			errs, err := validate(m.kind, m.json)
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) > 0 {
				t.Errorf("valid sample reported invalid:\n%v", errs.ToAggregate())
			}
		})
	}
}

// Every manifest the API server refuses is refused by the Go validator too,
// so `ramp lint` catches it offline.
func TestManifestsRefusedByTheAPIServerAreInvalidHereToo(t *testing.T) {
	for _, m := range readManifests(t, "../../config/crd/testdata/invalid/*.yaml") {
		t.Run(m.name, func(t *testing.T) {
			errs, err := validate(m.kind, m.json)
			if err != nil {
				t.Skipf("does not decode into the Go types, so only the API server sees it: %v", err)
			}
			if len(errs) == 0 {
				t.Errorf("no violation reported; the API server says: %v", m.want)
			}
		})
	}
}
