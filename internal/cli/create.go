package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysisrun"
	"github.com/rampdev/ramp/internal/manifest"
	"github.com/rampdev/ramp/internal/migrate"
	"github.com/rampdev/ramp/internal/validation"
)

func newCreateCommand(e *env) *cobra.Command {
	var files []string
	var watch bool
	create := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create the objects of a manifest (Rollouts, AnalysisTemplates, Services...); Argo Rollouts objects are converted as `ramp convert` does",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return fmt.Errorf("-f FILE is required")
			}
			var docs []manifest.Document
			for _, file := range files {
				d, err := readManifest(file)
				if err != nil {
					return err
				}
				docs = append(docs, d...)
			}
			cl, ns, err := e.clientIn()
			if err != nil {
				return err
			}
			var rollout string
			for _, d := range docs {
				for _, note := range migrate.Convert(d.Object) {
					fmt.Fprintf(e.errOut, "%s: %s\n", d.Source, note)
				}
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
				if u.GetKind() == "Rollout" && rollout == "" {
					rollout = u.GetName()
				}
			}
			if watch && rollout != "" {
				return e.watchRollout(cmd.Context(), rollout)
			}
			return nil
		},
	}
	create.Flags().StringArrayVarP(&files, "filename", "f", nil, "the manifest (YAML or JSON, several documents allowed; - for stdin); repeatable")
	create.Flags().BoolVarP(&watch, "watch", "w", false, "then show the (first) Rollout created, as get rollout --watch")

	var from, fromFile, name, generateName, instanceID string
	var global bool
	var argv []string
	run := &cobra.Command{
		Use:   "analysisrun --from TEMPLATE",
		Short: "Start an AnalysisRun from an AnalysisTemplate (--global: a ClusterAnalysisTemplate; --from-file: one in a file), with --argument name=value",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (from == "") == (fromFile == "") {
				return fmt.Errorf("one of --from TEMPLATE or --from-file FILE is required")
			}
			if name != "" && generateName != "" {
				return fmt.Errorf("--name and --generate-name exclude one another")
			}
			cl, ns, err := e.clientIn()
			if err != nil {
				return err
			}
			var reader client.Reader = cl
			if fromFile != "" {
				t, err := templateFromFile(fromFile)
				if err != nil {
					return err
				}
				from = t.GetName()
				_, global = t.(*v1alpha1.ClusterAnalysisTemplate)
				reader = fileTemplate{Reader: cl, template: t}
			}
			var args []v1alpha1.Argument
			for _, kv := range argv {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--argument %q: expected NAME=VALUE", kv)
				}
				args = append(args, v1alpha1.Argument{Name: k, Value: &v})
			}
			refs := []v1alpha1.AnalysisTemplateRef{{TemplateName: from, ClusterScope: global}}
			declared, err := analysisrun.Spec(cmd.Context(), reader, ns, refs, nil)
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
			spec, err := analysisrun.Spec(cmd.Context(), reader, ns, refs, args)
			if err != nil {
				return err
			}
			for _, a := range spec.Args {
				if a.Value == nil && a.ValueFrom == nil {
					return fmt.Errorf("template %q needs argument %q: pass --argument %s=VALUE", from, a.Name, a.Name)
				}
			}
			run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns}, Spec: *spec}
			switch {
			case name != "":
				run.Name = name
			case generateName != "":
				run.GenerateName = generateName
			default:
				run.GenerateName = from + "-"
			}
			if instanceID != "" {
				run.Labels = map[string]string{v1alpha1.InstanceIDLabelKey: instanceID}
			}
			if err := cl.Create(cmd.Context(), run); err != nil {
				return explain(err, "analysisrun", name, ns)
			}
			_, err = fmt.Fprintf(e.out, "analysisrun %q created from template %q\n", run.Name, from)
			return err
		},
	}
	run.Flags().StringVar(&from, "from", "", "the AnalysisTemplate")
	run.Flags().StringVar(&fromFile, "from-file", "", "an AnalysisTemplate or ClusterAnalysisTemplate in a file (ramp.dev or argoproj.io), instead of --from")
	run.Flags().BoolVar(&global, "global", false, "--from names a ClusterAnalysisTemplate")
	run.Flags().StringVar(&name, "name", "", "the run's name (default: the template's, with a random suffix)")
	run.Flags().StringVar(&generateName, "generate-name", "", "the run's name prefix, with a random suffix")
	run.Flags().StringVar(&instanceID, "instance-id", "", "label the run for the controller started with this --instance-id")
	run.Flags().StringArrayVarP(&argv, "argument", "a", nil, "an argument, NAME=VALUE (repeatable)")
	create.AddCommand(run)
	return create
}

// templateFromFile reads the one AnalysisTemplate or
// ClusterAnalysisTemplate of a file (an Argo Rollouts one is converted).
func templateFromFile(file string) (client.Object, error) {
	docs, err := readManifest(file)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("--from-file %s: want one AnalysisTemplate or ClusterAnalysisTemplate, found %d documents", file, len(docs))
	}
	doc := docs[0]
	migrate.Convert(doc.Object) // an Argo Rollouts template becomes Ramp's
	var obj client.Object
	switch doc.Kind() {
	case "AnalysisTemplate":
		obj = &v1alpha1.AnalysisTemplate{}
	case "ClusterAnalysisTemplate":
		obj = &v1alpha1.ClusterAnalysisTemplate{}
	default:
		return nil, fmt.Errorf("--from-file %s: a %s, want an AnalysisTemplate or a ClusterAnalysisTemplate", file, doc.Kind())
	}
	b, err := doc.JSON()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, obj); err != nil {
		return nil, fmt.Errorf("--from-file %s: %w", file, err)
	}
	var errs field.ErrorList
	switch t := obj.(type) {
	case *v1alpha1.AnalysisTemplate:
		errs = validation.AnalysisTemplate(t)
	case *v1alpha1.ClusterAnalysisTemplate:
		errs = validation.ClusterAnalysisTemplate(t)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("--from-file %s: %w", file, errs.ToAggregate())
	}
	return obj, nil
}

// fileTemplate serves the template of --from-file to analysisrun.Spec.
type fileTemplate struct {
	client.Reader
	template client.Object
}

func (f fileTemplate) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	switch dst := obj.(type) {
	case *v1alpha1.AnalysisTemplate:
		if src, ok := f.template.(*v1alpha1.AnalysisTemplate); ok && src.Name == key.Name {
			src.DeepCopyInto(dst)
			return nil
		}
	case *v1alpha1.ClusterAnalysisTemplate:
		if src, ok := f.template.(*v1alpha1.ClusterAnalysisTemplate); ok && src.Name == key.Name {
			src.DeepCopyInto(dst)
			return nil
		}
	}
	return apierrors.NewNotFound(v1alpha1.GroupVersion.WithResource("analysistemplates").GroupResource(), key.Name)
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
