package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/manifest"
)

// argoKinds are the kinds whose apiVersion convert rewrites.
var argoKinds = []string{"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment"}

// renamedKeys are Argo Rollouts' label and annotation keys (or key
// prefixes, ending in "/") and Ramp's.
var renamedKeys = [][2]string{
	{"argo-rollouts.argoproj.io/managed-by-rollouts", v1alpha1.ManagedByRolloutsKey},
	{"argo-rollouts.argoproj.io/restarted-after", v1alpha1.RestartedAfterAnnotationKey},
	{"argo-rollouts.argoproj.io/controller-instance-id", v1alpha1.InstanceIDLabelKey},
	{"rollout.argoproj.io/", "rollout.ramp.dev/"},
	{"experiment.argoproj.io/", "experiment.ramp.dev/"},
}

// builtInProviders and builtInRouters are what Ramp's controller runs
// today; other blocks are carried over (the API accepts them) and
// reported.
var (
	builtInProviders = []string{"prometheus", "web", "job"}
	builtInRouters   = []string{"alb", "nginx", "istio", "smi", "gatewayAPI", "managedRoutes", "maxTrafficWeight"}
)

func newConvertCommand(e *env) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "convert -f FILE",
		Short: "Rewrite Argo Rollouts manifests to Ramp's API, and report what Ramp cannot run",
		Long: `Rewrite Argo Rollouts manifests to Ramp's API: apiVersion argoproj.io/v1alpha1
becomes ramp.dev/v1alpha1 for Rollouts, AnalysisTemplates, ClusterAnalysisTemplates,
AnalysisRuns and Experiments, and Argo's label and annotation keys become Ramp's.
Other documents pass through unchanged. The converted manifest goes to standard
output; what could not be carried over (a metric provider, traffic router or step
Ramp's controller does not run yet) is reported on standard error.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("-f FILE is required")
			}
			docs, err := readManifest(file)
			if err != nil {
				return err
			}
			for i, d := range docs {
				notes := convert(d)
				b, err := yaml.Marshal(d.Object)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(e.out, "---")
				}
				if _, err := e.out.Write(b); err != nil {
					return err
				}
				for _, n := range notes {
					fmt.Fprintf(e.errOut, "%s %s %q: %s\n", d.Source, d.Kind(), d.Name(), n)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the manifest (YAML or JSON, several documents allowed; - for stdin)")
	return cmd
}

// convert rewrites one document in place and returns what it could not
// carry over.
func convert(d manifest.Document) []string {
	api, _ := d.Object["apiVersion"].(string)
	if api != "argoproj.io/v1alpha1" || !slices.Contains(argoKinds, d.Kind()) {
		return nil
	}
	d.Object["apiVersion"] = v1alpha1.SchemeGroupVersion.String()
	renameKeys(d.Object, "metadata")
	spec, _ := d.Object["spec"].(map[string]any)
	renameKeys(spec, "template", "metadata")
	var notes []string
	switch d.Kind() {
	case "Rollout":
		notes = append(notes, rolloutNotes(spec)...)
	case "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun":
		notes = append(notes, metricNotes(spec, "spec")...)
	case "Experiment":
		notes = append(notes, "Experiment: Ramp's API accepts it, but its controller does not run experiments yet")
	}
	return notes
}

// renameKeys renames Argo's keys in the labels and annotations of the
// metadata at path under obj.
func renameKeys(obj map[string]any, path ...string) {
	for _, p := range path {
		next, _ := obj[p].(map[string]any)
		if next == nil {
			return
		}
		obj = next
	}
	for _, which := range []string{"labels", "annotations"} {
		m, _ := obj[which].(map[string]any)
		for k, v := range m {
			for _, r := range renamedKeys {
				if k == r[0] || (strings.HasSuffix(r[0], "/") && strings.HasPrefix(k, r[0])) {
					delete(m, k)
					m[r[1]+strings.TrimPrefix(k, r[0])] = v
					break
				}
			}
		}
	}
}

func rolloutNotes(spec map[string]any) []string {
	var notes []string
	strategy, _ := spec["strategy"].(map[string]any)
	c, _ := strategy["canary"].(map[string]any)
	if c == nil {
		return nil
	}
	steps, _ := c["steps"].([]any)
	for i, s := range steps {
		step, _ := s.(map[string]any)
		for _, kind := range []string{"experiment", "plugin"} {
			if step[kind] != nil {
				notes = append(notes, fmt.Sprintf("spec.strategy.canary.steps[%d].%s: Ramp's controller does not run %s steps yet; the rollout will be InvalidSpec", i, kind, kind))
			}
		}
	}
	if tr, _ := c["trafficRouting"].(map[string]any); tr != nil {
		var names []string
		for k := range tr {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, name := range names {
			switch {
			case name == "plugins":
				plugins, _ := tr["plugins"].(map[string]any)
				for p := range plugins {
					if p != "argoproj-labs/gatewayAPI" {
						notes = append(notes, fmt.Sprintf("spec.strategy.canary.trafficRouting.plugins.%s: Ramp has no plugin routers; the rollout will be InvalidSpec", p))
					}
				}
			case !slices.Contains(builtInRouters, name):
				notes = append(notes, fmt.Sprintf("spec.strategy.canary.trafficRouting.%s: the %s router is not built into Ramp; the rollout will be InvalidSpec", name, name))
			}
		}
	}
	return notes
}

// metricNotes reports metrics whose provider Ramp does not run.
func metricNotes(spec map[string]any, path string) []string {
	var notes []string
	metrics, _ := spec["metrics"].([]any)
	for i, m := range metrics {
		metric, _ := m.(map[string]any)
		provider, _ := metric["provider"].(map[string]any)
		for name := range provider {
			if !slices.Contains(builtInProviders, name) {
				notes = append(notes, fmt.Sprintf("%s.metrics[%d].provider.%s: the %s provider is not available in Ramp yet; measurements of metric %q will be errors", path, i, name, name, metric["name"]))
			}
		}
	}
	return notes
}
