package analysisrun

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// templates is a client.Reader over a fixed set of templates: Spec only
// reads by name, and the Rollout controller's end-to-end tests cover it
// against the API server.
type templates map[string]client.Object

func (t templates) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	k := key.Name
	if key.Namespace != "" {
		k = key.Namespace + "/" + k
	}
	src, ok := t[k]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Group: "ramp.dev", Resource: "analysistemplates"}, key.Name)
	}
	switch dst := obj.(type) {
	case *v1alpha1.AnalysisTemplate:
		src.(*v1alpha1.AnalysisTemplate).DeepCopyInto(dst)
	case *v1alpha1.ClusterAnalysisTemplate:
		src.(*v1alpha1.ClusterAnalysisTemplate).DeepCopyInto(dst)
	}
	return nil
}

func (t templates) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func metric(name string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: name, Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: "up"}}}
}

func TestSpecMergesNestedTemplatesAndArguments(t *testing.T) {
	r := templates{
		"ns/outer": &v1alpha1.AnalysisTemplate{Spec: v1alpha1.AnalysisTemplateSpec{
			Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "shared", ClusterScope: true}},
			Metrics:   []v1alpha1.Metric{metric("latency")},
			Args:      []v1alpha1.Argument{{Name: "service"}, {Name: "window", Value: ptr.To("5m")}},
			DryRun:    []v1alpha1.DryRun{{MetricName: "latency"}},
		}},
		"shared": &v1alpha1.ClusterAnalysisTemplate{Spec: v1alpha1.AnalysisTemplateSpec{
			Metrics: []v1alpha1.Metric{metric("errors")},
			Args:    []v1alpha1.Argument{{Name: "service"}},
		}},
	}
	spec, err := Spec(t.Context(), r, "ns", []v1alpha1.AnalysisTemplateRef{{TemplateName: "outer"}},
		[]v1alpha1.Argument{{Name: "service", Value: ptr.To("shop")}, {Name: "extra", Value: ptr.To("x")}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range spec.Metrics {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "errors,latency" || len(spec.DryRun) != 1 {
		t.Errorf("metrics %v, dryRun %v", names, spec.DryRun)
	}
	got := map[string]string{}
	for _, a := range spec.Args {
		got[a.Name] = ptr.Deref(a.Value, "<required>")
	}
	if got["service"] != "shop" || got["window"] != "5m" || got["extra"] != "x" || len(got) != 3 {
		t.Errorf("args %v", got)
	}
}

func TestSpecReportsMissingTemplatesAndDuplicates(t *testing.T) {
	_, err := Spec(t.Context(), templates{}, "ns", []v1alpha1.AnalysisTemplateRef{{TemplateName: "gone"}}, nil)
	var ref *ReferenceError
	if !errors.As(err, &ref) || ref.Msg != "AnalysisTemplate ns/gone not found" {
		t.Fatalf("got %v", err)
	}
	r := templates{
		"ns/a": &v1alpha1.AnalysisTemplate{Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric("m")}}},
		"ns/b": &v1alpha1.AnalysisTemplate{Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric("m")}}},
	}
	_, err = Spec(t.Context(), r, "ns", []v1alpha1.AnalysisTemplateRef{{TemplateName: "a"}, {TemplateName: "b"}}, nil)
	if !errors.As(err, &ref) || !strings.Contains(ref.Msg, `metric "m" is defined by more than one template`) {
		t.Fatalf("got %v", err)
	}
	loop := templates{"ns/self": &v1alpha1.AnalysisTemplate{Spec: v1alpha1.AnalysisTemplateSpec{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "self"}}}}}
	_, err = Spec(t.Context(), loop, "ns", []v1alpha1.AnalysisTemplateRef{{TemplateName: "self"}}, nil)
	if !errors.As(err, &ref) || !strings.Contains(ref.Msg, "nest more than") {
		t.Fatalf("a template that includes itself: %v", err)
	}
}

func TestRolloutArgs(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "prod", Labels: map[string]string{"region": "eu"}}}
	args, err := RolloutArgs(ro, []v1alpha1.AnalysisRunArgument{
		{Name: "stable", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: ptr.To(v1alpha1.Stable)}},
		{Name: "latest", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: ptr.To(v1alpha1.Latest)}},
		{Name: "region", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "metadata.labels['region']"}}},
		{Name: "ns", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "metadata.namespace"}}},
		{Name: "plain", Value: "v"},
	}, "s1", "l2")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"stable=s1", "latest=l2", "region=eu", "ns=prod", "plain=v"}
	for i, a := range args {
		if got := a.Name + "=" + *a.Value; got != want[i] {
			t.Errorf("arg %d: %s, want %s", i, got, want[i])
		}
	}
	if _, err := RolloutArgs(ro, []v1alpha1.AnalysisRunArgument{{Name: "x", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "metadata.secret"}}}}, "", ""); err == nil {
		t.Error("an unsupported fieldRef was resolved")
	}
}

func TestFieldValueReadsSpecAndStatus(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "shop", Generation: 7, Labels: map[string]string{"app.kubernetes.io/name": "shop"}}}
	ro.Spec.Replicas = ptr.To[int32](3)
	ro.Spec.Template.Labels = map[string]string{"app.kubernetes.io/name": "shop-pod"}
	ro.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "shop:2"}}
	ro.Status.ALB = &v1alpha1.ALBStatus{CanaryTargetGroup: v1alpha1.AwsResourceRef{Name: "k8s-canary", FullName: "targetgroup/k8s-canary/73e2d6bc24d8a067"}}
	for path, want := range map[string]string{
		"metadata.generation":                                     "7",
		"metadata.labels['app.kubernetes.io/name']":               "shop",
		"spec.replicas":                                           "3",
		"spec.template.metadata.labels['app.kubernetes.io/name']": "shop-pod",
		"spec.template.spec.containers[0].image":                  "shop:2",
		"status.alb.canaryTargetGroup.fullName":                   "targetgroup/k8s-canary/73e2d6bc24d8a067",
		"status.alb.canaryTargetGroup":                            `{"fullName":"targetgroup/k8s-canary/73e2d6bc24d8a067","name":"k8s-canary"}`,
	} {
		got, err := FieldValue(ro, path)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", path, got, err, want)
		}
	}
	for path, want := range map[string]string{
		"status.alb.stableTargetGroup.fullName":  "the rollout has no status.alb.stableTargetGroup (yet)",
		"spec.template.spec.containers[3].image": "spec.template.spec.containers has no item 3",
		"spec.replicas.x":                        "spec.replicas is not an object",
		"metadata.secret":                        "under metadata, a path is name",
		"secrets.x":                              "a path starts with metadata, spec or status",
		"status.":                                "ends with a dot",
		"spec.template.metadata.labels['x":       "is not closed",
	} {
		_, err := FieldValue(ro, path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", path, err, want)
		}
	}
}
