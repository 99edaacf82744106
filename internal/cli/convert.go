package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/internal/migrate"
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
				notes := migrate.Convert(d.Object)
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
