package validation

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// manifest is one YAML document, as JSON, with its kind.
type manifest struct {
	name string
	kind string
	json []byte
	want []string
}

func readManifests(t testing.TB, pattern string) []manifest {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	var out []manifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, line := range strings.Split(string(b), "\n") {
			if w, ok := strings.CutPrefix(line, "# want: "); ok {
				want = append(want, w)
			}
		}
		d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var m map[string]any
			if err := d.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m == nil {
				continue
			}
			j, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			kind, _ := m["kind"].(string)
			name, _ := m["metadata"].(map[string]any)["name"].(string)
			out = append(out, manifest{name: filepath.Base(f) + "/" + name, kind: kind, json: j, want: want})
		}
	}
	return out
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
