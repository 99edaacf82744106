package crd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampdev/ramp/config/crd"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/manifest"
)

var (
	dyn   dynamic.Interface
	kube  kubernetes.Interface
	nsSeq int
)

func TestMain(m *testing.M) {
	c, err := cluster.Start(context.Background(), cluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the cluster:", err)
		os.Exit(1)
	}
	dyn = dynamic.NewForConfigOrDie(c.Config())
	kube = kubernetes.NewForConfigOrDie(c.Config())
	code := m.Run()
	c.Stop()
	os.Exit(code)
}

var resources = map[string]string{
	"Rollout":                 "rollouts",
	"AnalysisTemplate":        "analysistemplates",
	"ClusterAnalysisTemplate": "clusteranalysistemplates",
	"AnalysisRun":             "analysisruns",
	"Experiment":              "experiments",
}

// doc is one YAML document of a file, with the "# want:" lines found in it.
type doc struct {
	file string
	obj  *unstructured.Unstructured
	want []string
}

func readDocs(t *testing.T, pattern string) []doc {
	t.Helper()
	docs, err := manifest.ReadFiles(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []doc
	for _, d := range docs {
		file := strings.Split(d.Source, "#")[0]
		b, err := os.ReadFile(filepath.Join(filepath.Dir(pattern), file))
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, line := range strings.Split(string(b), "\n") {
			if w, ok := strings.CutPrefix(line, "# want: "); ok {
				want = append(want, w)
			}
		}
		out = append(out, doc{file: file, obj: &unstructured.Unstructured{Object: d.Object}, want: want})
	}
	return out
}

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T) string {
	t.Helper()
	nsSeq++
	name := fmt.Sprintf("crd-%d", nsSeq)
	if _, err := kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// create sends obj to the API server with strict field validation, so that
// a field the schema does not know is an error rather than silently pruned.
func create(ctx context.Context, ns string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	res, ok := resources[obj.GetKind()]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q", obj.GetKind())
	}
	gvr := schema.GroupVersionResource{Group: "ramp.dev", Version: "v1alpha1", Resource: res}
	opts := metav1.CreateOptions{FieldValidation: "Strict"}
	if obj.GetKind() == "ClusterAnalysisTemplate" {
		obj.SetName(obj.GetName() + "-" + ns)
		return dyn.Resource(gvr).Create(ctx, obj, opts)
	}
	return dyn.Resource(gvr).Namespace(ns).Create(ctx, obj, opts)
}

func TestSamplesAreAccepted(t *testing.T) {
	ns := namespace(t)
	kinds := map[string]int{}
	for _, d := range readDocs(t, "../samples/*.yaml") {
		kinds[d.obj.GetKind()]++
		t.Run(d.file+"/"+d.obj.GetName(), func(t *testing.T) {
			want := d.obj.DeepCopy()
			got, err := create(t.Context(), ns, d.obj)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			// Nothing was pruned or rewritten: every field sent reads back
			// unchanged (the server may only add schema defaults).
			ws, _, _ := unstructured.NestedFieldNoCopy(want.Object, "spec")
			gs, _, _ := unstructured.NestedFieldNoCopy(got.Object, "spec")
			if missing := subset("spec", normalize(ws), normalize(gs)); len(missing) > 0 {
				t.Errorf("fields lost or changed on the way in:\n%s\nstored spec: %s", strings.Join(missing, "\n"), cmp.Diff(nil, gs))
			}
		})
	}
	for kind := range resources {
		if kinds[kind] == 0 {
			t.Errorf("no sample of kind %s", kind)
		}
	}
}

// subset lists the paths of sent whose value stored does not hold.
func subset(path string, sent, stored any) []string {
	switch s := sent.(type) {
	case map[string]any:
		st, ok := stored.(map[string]any)
		if !ok {
			return []string{path + ": not an object"}
		}
		var out []string
		for k, v := range s {
			out = append(out, subset(path+"."+k, v, st[k])...)
		}
		return out
	case []any:
		st, ok := stored.([]any)
		if !ok || len(st) != len(s) {
			return []string{fmt.Sprintf("%s: list of %d, stored %v", path, len(s), stored)}
		}
		var out []string
		for i := range s {
			out = append(out, subset(fmt.Sprintf("%s[%d]", path, i), s[i], st[i])...)
		}
		return out
	default:
		if fmt.Sprint(sent) != fmt.Sprint(stored) {
			return []string{fmt.Sprintf("%s: sent %v, stored %v", path, sent, stored)}
		}
		return nil
	}
}

// normalize makes numbers comparable (YAML decodes int64, the server float64
// or int64) and drops defaults the server adds.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case int64:
		return float64(x)
	case int:
		return float64(x)
	default:
		return v
	}
}

func TestArgoRolloutsManifestsAreAcceptedAfterApiVersionChange(t *testing.T) {
	ns := namespace(t)
	for _, d := range readDocs(t, "testdata/argo-rollouts-examples.yaml") {
		t.Run(d.obj.GetKind()+"/"+d.obj.GetName(), func(t *testing.T) {
			if d.obj.GetAPIVersion() != "argoproj.io/v1alpha1" {
				t.Fatalf("example has apiVersion %s", d.obj.GetAPIVersion())
			}
			d.obj.SetAPIVersion("ramp.dev/v1alpha1")
			if _, err := create(t.Context(), ns, d.obj); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestInvalidManifestsAreRefusedNamingTheField(t *testing.T) {
	ns := namespace(t)
	docs := readDocs(t, "testdata/invalid/*.yaml")
	if len(docs) < 25 {
		t.Fatalf("only %d invalid cases; want at least 25", len(docs))
	}
	for _, d := range docs {
		t.Run(strings.TrimSuffix(d.file, ".yaml"), func(t *testing.T) {
			if len(d.want) == 0 {
				t.Fatal("case has no '# want:' line")
			}
			_, err := create(t.Context(), ns, d.obj)
			if err == nil {
				t.Fatal("accepted; want refused")
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, w := range d.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestRolloutSelectorIsImmutable(t *testing.T) {
	ns := namespace(t)
	d := readDocs(t, "testdata/argo-rollouts-examples.yaml")[0]
	d.obj.SetAPIVersion("ramp.dev/v1alpha1")
	got, err := create(t.Context(), ns, d.obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedStringMap(got.Object, map[string]string{"app": "other"}, "spec", "selector", "matchLabels"); err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "ramp.dev", Version: "v1alpha1", Resource: "rollouts"}
	_, err = dyn.Resource(gvr).Namespace(ns).Update(t.Context(), got, metav1.UpdateOptions{})
	if err == nil || !strings.Contains(err.Error(), "spec.selector is immutable") {
		t.Fatalf("want 'spec.selector is immutable', got %v", err)
	}
}

func TestRolloutScaleSubresource(t *testing.T) {
	ns := namespace(t)
	d := readDocs(t, "testdata/argo-rollouts-examples.yaml")[0]
	d.obj.SetAPIVersion("ramp.dev/v1alpha1")
	if _, err := create(t.Context(), ns, d.obj); err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "ramp.dev", Version: "v1alpha1", Resource: "rollouts"}
	scale, err := dyn.Resource(gvr).Namespace(ns).Get(t.Context(), d.obj.GetName(), metav1.GetOptions{}, "scale")
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(scale.Object, "spec", "replicas"); n != 2 {
		t.Fatalf("scale spec.replicas = %d, want 2", n)
	}
	if err := unstructured.SetNestedField(scale.Object, int64(4), "spec", "replicas"); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(gvr).Namespace(ns).Update(t.Context(), scale, metav1.UpdateOptions{}, "scale"); err != nil {
		t.Fatalf("scaling through /scale: %v", err)
	}
	ro, err := dyn.Resource(gvr).Namespace(ns).Get(t.Context(), d.obj.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(ro.Object, "spec", "replicas"); n != 4 {
		t.Fatalf("spec.replicas after /scale = %d, want 4", n)
	}
}

func TestCRDsDescribeKindsAndFitKubectlApply(t *testing.T) {
	crds, err := crd.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	short := map[string]string{}
	for _, c := range crds {
		short[c.Spec.Names.Kind] = strings.Join(c.Spec.Names.ShortNames, ",")
		var cols []string
		for _, col := range c.Spec.Versions[0].AdditionalPrinterColumns {
			cols = append(cols, col.Name)
		}
		t.Logf("%s: scope %s, short names %v, columns %v", c.Name, c.Spec.Scope, c.Spec.Names.ShortNames, cols)
		switch c.Spec.Names.Kind {
		case "Rollout":
			if got := strings.Join(cols, ","); got != "Desired,Current,Up-to-date,Available,Phase,Age" {
				t.Errorf("Rollout columns %s", got)
			}
			sub := c.Spec.Versions[0].Subresources
			if sub == nil || sub.Status == nil || sub.Scale == nil || sub.Scale.SpecReplicasPath != ".spec.replicas" ||
				sub.Scale.StatusReplicasPath != ".status.HPAReplicas" || sub.Scale.LabelSelectorPath == nil || *sub.Scale.LabelSelectorPath != ".status.selector" {
				t.Errorf("Rollout subresources %+v", sub)
			}
		case "AnalysisRun", "Experiment":
			if got := strings.Join(cols, ","); got != "Phase,Age" {
				t.Errorf("%s columns %s", c.Spec.Names.Kind, got)
			}
		}
		if c.Spec.Names.Kind == "ClusterAnalysisTemplate" && c.Spec.Scope != "Cluster" {
			t.Errorf("ClusterAnalysisTemplate scope %s", c.Spec.Scope)
		}
		// kubectl apply keeps the whole object in an annotation of at most
		// 256 KiB.
		b, err := jsonSize(c)
		if err != nil {
			t.Fatal(err)
		}
		if b > 256*1024-1024 {
			t.Errorf("%s is %d bytes of JSON: too large for kubectl apply", c.Name, b)
		}
	}
	want := map[string]string{"Rollout": "ro", "AnalysisTemplate": "at", "ClusterAnalysisTemplate": "cat", "AnalysisRun": "ar", "Experiment": "exp"}
	for kind, s := range want {
		if !strings.HasPrefix(short[kind], s) {
			t.Errorf("%s short names %q, want %q first", kind, short[kind], s)
		}
	}
}
