package analysisrun

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
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

// FieldValue reads a path of the rollout, as Argo Rollouts does:
// downward-API metadata (name, namespace, uid, generation, a label or an
// annotation), or any path under metadata, spec or status, such as
// status.alb.canaryTargetGroup.fullName or
// spec.template.metadata.labels['app.kubernetes.io/name']. A string is its
// value; a number or boolean is printed; an object or list is its JSON. A
// path that leads nowhere (a status field not filled in yet) is an error
// naming the path.
func FieldValue(ro *v1alpha1.Rollout, path string) (string, error) {
	switch path {
	case "metadata.name":
		return ro.Name, nil
	case "metadata.namespace":
		return ro.Namespace, nil
	case "metadata.uid":
		return string(ro.UID), nil
	case "metadata.generation":
		return strconv.FormatInt(ro.Generation, 10), nil
	}
	if m := mapKeyRE.FindStringSubmatch(path); m != nil {
		if m[1] == "labels" {
			return ro.Labels[m[2]], nil
		}
		return ro.Annotations[m[2]], nil
	}
	steps, err := FieldSteps(path)
	if err != nil {
		return "", err
	}
	doc, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ro)
	if err != nil {
		return "", fmt.Errorf("fieldRef %s: %w", path, err)
	}
	var cur any = doc
	for i, step := range steps {
		switch node := cur.(type) {
		case map[string]any:
			v, ok := node[step]
			if !ok {
				return "", fmt.Errorf("fieldRef %s: the rollout has no %s (yet)", path, strings.Join(steps[:i+1], "."))
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(step)
			if err != nil || n < 0 || n >= len(node) {
				return "", fmt.Errorf("fieldRef %s: %s has no item %s", path, strings.Join(steps[:i], "."), step)
			}
			cur = node[n]
		default:
			return "", fmt.Errorf("fieldRef %s: %s is not an object", path, strings.Join(steps[:i], "."))
		}
	}
	switch v := cur.(type) {
	case nil:
		return "", fmt.Errorf("fieldRef %s: the rollout has no value there (yet)", path)
	case string:
		return v, nil
	case map[string]any, []any:
		data, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("fieldRef %s: %w", path, err)
		}
		return string(data), nil
	default:
		return fmt.Sprint(v), nil
	}
}

// metadataFields are the metadata a fieldRef may read, as the downward API.
var metadataFields = map[string]bool{"name": true, "namespace": true, "uid": true, "generation": true, "labels": true, "annotations": true}

// FieldSteps splits a fieldRef path into its steps (a.b['c.d'][0] is a,
// b, c.d, 0), or says what is wrong with it: a path starts with metadata,
// spec or status.
func FieldSteps(path string) ([]string, error) {
	var steps []string
	rest := path
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "['"):
			end := strings.Index(rest[2:], "']")
			if end < 0 {
				return nil, fmt.Errorf("fieldRef %s: a ['key'] is not closed", path)
			}
			steps = append(steps, rest[2:2+end])
			rest = rest[2+end+2:]
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("fieldRef %s: an [index] is not closed", path)
			}
			steps = append(steps, rest[1:end])
			rest = rest[end+1:]
		case rest[0] == '.' && len(steps) > 0:
			rest = rest[1:]
			if rest == "" {
				return nil, fmt.Errorf("fieldRef %s: the path ends with a dot", path)
			}
			continue
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("fieldRef %s: an empty step", path)
			}
			steps = append(steps, rest[:end])
			rest = rest[end:]
		}
		if rest != "" && rest[0] != '.' && rest[0] != '[' {
			return nil, fmt.Errorf("fieldRef %s: a step must be followed by . or [", path)
		}
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("fieldRef: the path is empty")
	}
	if steps[0] != "metadata" && steps[0] != "spec" && steps[0] != "status" {
		return nil, fmt.Errorf("fieldRef %s: a path starts with metadata, spec or status", path)
	}
	if steps[0] == "metadata" && (len(steps) < 2 || !metadataFields[steps[1]] || len(steps) > 3 || len(steps) == 3 && steps[1] != "labels" && steps[1] != "annotations") {
		return nil, fmt.Errorf("fieldRef %s: under metadata, a path is name, namespace, uid, generation, labels['KEY'] or annotations['KEY']", path)
	}
	return steps, nil
}
