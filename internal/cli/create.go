package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysisrun"
	"github.com/rampdev/ramp/internal/manifest"
)

func newCreateCommand(e *env) *cobra.Command {
	var file string
	create := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create the objects of a manifest (Rollouts, AnalysisTemplates, Services...)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("-f FILE is required")
			}
			docs, err := readManifest(file)
			if err != nil {
				return err
			}
			cl, ns, err := e.clientIn()
			if err != nil {
				return err
			}
			for _, d := range docs {
				u := &unstructured.Unstructured{Object: d.Object}
				if u.GetNamespace() == "" {
					u.SetNamespace(ns)
				}
				if err := cl.Create(cmd.Context(), u, &client.CreateOptions{Raw: &metav1.CreateOptions{FieldValidation: "Strict"}}); err != nil {
					if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
						return fmt.Errorf("%s: %s %q refused: %v", d.Source, u.GetKind(), u.GetName(), err)
					}
					return explain(err, strings.ToLower(u.GetKind()), u.GetName(), u.GetNamespace())
				}
				fmt.Fprintf(e.out, "%s %q created\n", strings.ToLower(u.GetKind()), u.GetName())
			}
			return nil
		},
	}
	create.Flags().StringVarP(&file, "filename", "f", "", "the manifest (YAML or JSON, several documents allowed; - for stdin)")

	var from, name string
	var argv []string
	run := &cobra.Command{
		Use:   "analysisrun --from TEMPLATE",
		Short: "Start an AnalysisRun from an AnalysisTemplate, with --argument name=value",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return fmt.Errorf("--from TEMPLATE is required")
			}
			cl, ns, err := e.clientIn()
			if err != nil {
				return err
			}
			var args []v1alpha1.Argument
			for _, kv := range argv {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--argument %q: expected NAME=VALUE", kv)
				}
				args = append(args, v1alpha1.Argument{Name: k, Value: &v})
			}
			refs := []v1alpha1.AnalysisTemplateRef{{TemplateName: from}}
			declared, err := analysisrun.Spec(cmd.Context(), cl, ns, refs, nil)
			if err != nil {
				return err
			}
			for _, d := range declared.Args {
				if d.ValueFrom == nil || d.ValueFrom.SecretKeyRef == nil {
					continue
				}
				for _, a := range args {
					if a.Name == d.Name {
						return fmt.Errorf("--argument %s: template %q declares %q as a secret (valueFrom.secretKeyRef %s/%s): it comes from that Secret, never from the command line, where it would be stored in the run's spec",
							d.Name, from, d.Name, d.ValueFrom.SecretKeyRef.Name, d.ValueFrom.SecretKeyRef.Key)
					}
				}
			}
			spec, err := analysisrun.Spec(cmd.Context(), cl, ns, refs, args)
			if err != nil {
				return err
			}
			for _, a := range spec.Args {
				if a.Value == nil && a.ValueFrom == nil {
					return fmt.Errorf("template %q needs argument %q: pass --argument %s=VALUE", from, a.Name, a.Name)
				}
			}
			run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns}, Spec: *spec}
			if name != "" {
				run.Name = name
			} else {
				run.GenerateName = from + "-"
			}
			if err := cl.Create(cmd.Context(), run); err != nil {
				return explain(err, "analysisrun", name, ns)
			}
			_, err = fmt.Fprintf(e.out, "analysisrun %q created from template %q\n", run.Name, from)
			return err
		},
	}
	run.Flags().StringVar(&from, "from", "", "the AnalysisTemplate")
	run.Flags().StringVar(&name, "name", "", "the run's name (default: the template's, with a random suffix)")
	run.Flags().StringArrayVarP(&argv, "argument", "a", nil, "an argument, NAME=VALUE (repeatable)")
	create.AddCommand(run)
	return create
}

// readManifest reads file (or stdin for "-") into its documents.
func readManifest(file string) ([]manifest.Document, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	return manifest.Split(file, b)
}
