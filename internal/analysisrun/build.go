package analysisrun

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// maxNesting bounds how deep templates may include other templates.
const maxNesting = 10

// ReferenceError is a template that does not exist or does not resolve.
type ReferenceError struct{ Msg string }

func (e *ReferenceError) Error() string { return e.Msg }

// Spec merges the templates refs names (in namespace, or cluster-wide with
// clusterScope) into one AnalysisRun spec with the given arguments.
func Spec(ctx context.Context, r client.Reader, namespace string, refs []v1alpha1.AnalysisTemplateRef, args []v1alpha1.Argument) (*v1alpha1.AnalysisRunSpec, error) {
	spec := &v1alpha1.AnalysisRunSpec{}
	declared := map[string]v1alpha1.Argument{}
	var order []string
	seen := map[string]bool{}
	var walk func(refs []v1alpha1.AnalysisTemplateRef, depth int) error
	walk = func(refs []v1alpha1.AnalysisTemplateRef, depth int) error {
		if depth > maxNesting {
			return &ReferenceError{Msg: fmt.Sprintf("templates nest more than %d deep", maxNesting)}
		}
		for _, ref := range refs {
			tspec, err := get(ctx, r, namespace, ref)
			if err != nil {
				return err
			}
			if err := walk(tspec.Templates, depth+1); err != nil {
				return err
			}
			for _, m := range tspec.Metrics {
				if seen[m.Name] {
					return &ReferenceError{Msg: fmt.Sprintf("metric %q is defined by more than one template", m.Name)}
				}
				seen[m.Name] = true
				spec.Metrics = append(spec.Metrics, *m.DeepCopy())
			}
			spec.DryRun = append(spec.DryRun, tspec.DryRun...)
			spec.MeasurementRetention = append(spec.MeasurementRetention, tspec.MeasurementRetention...)
			for _, a := range tspec.Args {
				if _, ok := declared[a.Name]; !ok {
					order = append(order, a.Name)
				}
				if prev, ok := declared[a.Name]; !ok || (prev.Value == nil && prev.ValueFrom == nil) {
					declared[a.Name] = *a.DeepCopy()
				}
			}
		}
		return nil
	}
	if err := walk(refs, 0); err != nil {
		return nil, err
	}
	given := map[string]v1alpha1.Argument{}
	for _, a := range args {
		given[a.Name] = a
	}
	for _, name := range order {
		a := declared[name]
		if g, ok := given[name]; ok {
			a = g
		}
		spec.Args = append(spec.Args, a)
	}
	for _, a := range args {
		if _, ok := declared[a.Name]; !ok {
			spec.Args = append(spec.Args, a)
		}
	}
	return spec, nil
}

func get(ctx context.Context, r client.Reader, namespace string, ref v1alpha1.AnalysisTemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
	if ref.ClusterScope {
		t := &v1alpha1.ClusterAnalysisTemplate{}
		if err := r.Get(ctx, types.NamespacedName{Name: ref.TemplateName}, t); err != nil {
			return nil, notFound(err, "ClusterAnalysisTemplate "+ref.TemplateName)
		}
		return &t.Spec, nil
	}
	t := &v1alpha1.AnalysisTemplate{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.TemplateName}, t); err != nil {
		return nil, notFound(err, fmt.Sprintf("AnalysisTemplate %s/%s", namespace, ref.TemplateName))
	}
	return &t.Spec, nil
}

func notFound(err error, what string) error {
	if apierrors.IsNotFound(err) {
		return &ReferenceError{Msg: what + " not found"}
	}
	return err
}

// RolloutArgs resolves a rollout's analysis arguments: podTemplateHashValue
// to the stable or latest hash, fieldRef to a field of the rollout.
func RolloutArgs(ro *v1alpha1.Rollout, args []v1alpha1.AnalysisRunArgument, stableHash, latestHash string) ([]v1alpha1.Argument, error) {
	out := make([]v1alpha1.Argument, 0, len(args))
	for _, a := range args {
		v := a.Value
		if vf := a.ValueFrom; vf != nil {
			switch {
			case vf.PodTemplateHashValue != nil && *vf.PodTemplateHashValue == v1alpha1.Stable:
				v = stableHash
			case vf.PodTemplateHashValue != nil:
				v = latestHash
			case vf.FieldRef != nil:
				got, err := FieldValue(ro, vf.FieldRef.FieldPath)
				if err != nil {
					return nil, &ReferenceError{Msg: fmt.Sprintf("argument %s: %v", a.Name, err)}
				}
				v = got
			}
		}
		value := v
		out = append(out, v1alpha1.Argument{Name: a.Name, Value: &value})
	}
	return out, nil
}

var mapKeyRE = regexp.MustCompile(`^metadata\.(labels|annotations)\['([^']+)'\]$`)

// FieldValue reads a downward-API style path of the rollout.
func FieldValue(ro *v1alpha1.Rollout, path string) (string, error) {
	switch path {
	case "metadata.name":
		return ro.Name, nil
	case "metadata.namespace":
		return ro.Namespace, nil
	case "metadata.uid":
		return string(ro.UID), nil
	}
	if m := mapKeyRE.FindStringSubmatch(path); m != nil {
		if m[1] == "labels" {
			return ro.Labels[m[2]], nil
		}
		return ro.Annotations[m[2]], nil
	}
	if strings.HasPrefix(path, "status.") || strings.HasPrefix(path, "spec.") {
		return "", fmt.Errorf("fieldRef %s: paths under spec and status are not supported yet", path)
	}
	return "", fmt.Errorf("fieldRef %s is not a supported path", path)
}
