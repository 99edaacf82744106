package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/manifest"
	"github.com/rampdev/ramp/internal/migrate"
	"github.com/rampdev/ramp/internal/validation"
)

// ErrLint is returned (exit code 1) when lint finds problems.
var ErrLint = errors.New("problems found")

func newLintCommand(e *env) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "lint -f FILE",
		Short: "Check a manifest offline with the controller's own validator; every problem with its field path",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("-f FILE is required")
			}
			docs, err := readManifest(file)
			if err != nil {
				return err
			}
			problems, checked := 0, 0
			for _, d := range docs {
				found, ours := lintDocument(d)
				if ours {
					checked++
				}
				for _, p := range found {
					fmt.Fprintf(e.out, "%s %s %q: %s\n", d.Source, d.Kind(), d.Name(), p)
				}
				problems += len(found)
			}
			if problems > 0 {
				return fmt.Errorf("%s: %d %s in %d Ramp %s: %w", file, problems, plural(problems, "problem", "problems"), checked, plural(checked, "object", "objects"), ErrLint)
			}
			_, err = fmt.Fprintf(e.out, "%s: %d Ramp %s, no problems\n", file, checked, plural(checked, "object", "objects"))
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the manifest (YAML or JSON, several documents allowed; - for stdin)")
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// lintDocument checks one document: a Ramp kind is decoded strictly
// (unknown and duplicate fields are problems) and validated; other kinds
// are not Ramp's to judge (ours is false).
func lintDocument(d manifest.Document) (problems []string, ours bool) {
	// An Argo Rollouts object is checked as `ramp convert` would write it
	// (what Ramp would not run shows up as a validation problem).
	migrate.Convert(d.Object)
	api, _ := d.Object["apiVersion"].(string)
	var obj any
	var validate func() field.ErrorList
	switch d.Kind() {
	case "Rollout":
		ro := &v1alpha1.Rollout{}
		obj, validate = ro, func() field.ErrorList { return validation.Rollout(ro) }
	case "AnalysisTemplate":
		t := &v1alpha1.AnalysisTemplate{}
		obj, validate = t, func() field.ErrorList { return validation.AnalysisTemplate(t) }
	case "ClusterAnalysisTemplate":
		t := &v1alpha1.ClusterAnalysisTemplate{}
		obj, validate = t, func() field.ErrorList { return validation.ClusterAnalysisTemplate(t) }
	case "AnalysisRun":
		r := &v1alpha1.AnalysisRun{}
		obj, validate = r, func() field.ErrorList { return validation.AnalysisRun(r) }
	case "Experiment":
		x := &v1alpha1.Experiment{}
		obj, validate = x, func() field.ErrorList { return validation.Experiment(x) }
	default:
		return nil, false
	}
	if api != v1alpha1.SchemeGroupVersion.String() {
		return nil, false
	}
	b, err := json.Marshal(d.Object)
	if err != nil {
		return []string{err.Error()}, true
	}
	strict, err := sigsjson.UnmarshalStrict(b, obj)
	if err != nil {
		return []string{err.Error()}, true
	}
	for _, s := range strict {
		problems = append(problems, s.Error())
	}
	for _, fe := range validate() {
		problems = append(problems, fe.Error())
	}
	slices.Sort(problems)
	return problems, true
}
