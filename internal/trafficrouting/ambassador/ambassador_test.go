package ambassador_test

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/ambassador"
	"github.com/rampdev/ramp/internal/trafficrouting/conformance"
)

var (
	shared *cluster.Cluster
	admin  client.Client
	router client.Client
	writes *cluster.WriteCounter
)

func TestMain(m *testing.M) {
	clustertest.Main(m, app.Scheme(), []string{"testdata/getambassador.io_mappings.yaml"}, func(s clustertest.Shared) {
		shared, admin, router, writes = s.Cluster, s.Admin, s.Counted, s.Writes
	})
}

// mappings are the base Mapping the rollout names and one it does not.
const mappings = `
apiVersion: getambassador.io/v2
kind: Mapping
metadata:
  name: web
  annotations: {team: web}
spec:
  host: web.example.com
  prefix: /
  service: web-stable:80
  timeout_ms: 3000
---
apiVersion: getambassador.io/v2
kind: Mapping
metadata:
  name: docs
spec:
  host: web.example.com
  prefix: /docs/
  service: docs:80
`

// The CRD stores v2 and converts v3alpha1 through Emissary's webhook, which
// the tests do not run: they use v2, the default.
var mappingKind = ambassador.DefaultAPIVersion

type fixture struct {
	ns string
	r  trafficrouting.Router
}

func routing() v1alpha1.RolloutTrafficRouting {
	return v1alpha1.RolloutTrafficRouting{Ambassador: &v1alpha1.AmbassadorTrafficRouting{Mappings: []string{"web"}}}
}

func createMappings(t *testing.T) string {
	ns := clustertest.Namespace(t, admin)
	for _, doc := range strings.Split(mappings, "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		obj.SetNamespace(ns)
		if err := admin.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

func newFixture(t *testing.T) conformance.Fixture {
	ns := createMappings(t)
	tr := routing()
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.RolloutSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a"}}}},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				StableService: "web-stable", CanaryService: "web-canary", TrafficRouting: &tr,
			}},
		},
	}
	// Canary Mappings are owned by the Rollout: it must exist.
	if err := admin.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	r, err := ambassador.New(router, router, ro, "")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ns: ns, r: r}
}

func (f *fixture) get(t *testing.T, name string) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(mappingKind)
	obj.SetKind("Mapping")
	return obj, admin.Get(t.Context(), client.ObjectKey{Namespace: f.ns, Name: name}, obj)
}

func (f *fixture) Router() trafficrouting.Router { return f.r }

// Weight is the canary Mapping's (0 without one); it must send to the
// canary Service what the base sends to the stable one.
func (f *fixture) Weight(t *testing.T) int32 {
	obj, err := f.get(t, "web-canary")
	if apierrors.IsNotFound(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	spec := obj.Object["spec"].(map[string]any)
	if spec["service"] != "web-canary:80" || spec["prefix"] != "/" || spec["host"] != "web.example.com" || spec["timeout_ms"] != int64(3000) {
		t.Errorf("canary Mapping spec %v", spec)
	}
	if ref := metav1.GetControllerOf(obj); ref == nil || ref.Kind != "Rollout" || ref.Name != "web" {
		t.Errorf("canary Mapping owner %v", obj.GetOwnerReferences())
	}
	w, _ := spec["weight"].(int64)
	return int32(w)
}

func (f *fixture) Routes(*testing.T) (headers, mirrors []string) { return nil, nil }

// Foreign is everything in the Mappings that are not Ramp's.
func (f *fixture) Foreign(t *testing.T) string {
	var out []any
	for _, name := range []string{"web", "docs"} {
		obj, err := f.get(t, name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, obj.GetAnnotations(), obj.GetLabels(), obj.Object["spec"])
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func (f *fixture) Writes() int { return writes.Count(f.ns) }

func (f *fixture) Remove(t *testing.T) {
	obj, err := f.get(t, "web")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
}

func TestAmbassadorConforms(t *testing.T) {
	conformance.Suite{Name: "ambassador", New: newFixture, NoDestinations: true, NoHeaderRoutes: true, NoMirrorRoutes: true}.Run(t)
}

// Back at weight 0 the canary Mapping first takes no traffic, then goes.
func TestCanaryMappingGoesAtWeightZero(t *testing.T) {
	f := newFixture(t).(*fixture)
	for _, w := range []int32{30, 0} {
		if err := f.r.SetWeight(t.Context(), w); err != nil {
			t.Fatal(err)
		}
	}
	if obj, err := f.get(t, "web-canary"); err != nil || obj.Object["spec"].(map[string]any)["weight"] != int64(0) {
		t.Fatalf("after weight 0: %v %v", obj, err)
	}
	if err := f.r.SetWeight(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.get(t, "web-canary"); !apierrors.IsNotFound(err) {
		t.Fatalf("the canary Mapping is still there: %v", err)
	}
}

// A base Mapping that sets a weight is refused, naming it.
func TestWeightedBaseMappingIsRefused(t *testing.T) {
	f := newFixture(t).(*fixture)
	obj, _ := f.get(t, "web")
	obj.Object["spec"].(map[string]any)["weight"] = int64(50)
	if err := admin.Update(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	err := f.r.SetWeight(t.Context(), 10)
	if err == nil || !strings.Contains(err.Error(), "Mapping web sets weight 50: Ramp weights a canary copy of it, so it must set none") {
		t.Errorf("error %v", err)
	}
}

// A canary through Mappings with ramp-controller.
func TestCanaryThroughAMapping(t *testing.T) {
	f := &fixture{ns: createMappings(t)}
	conformance.Canary{Namespace: f.ns, Routing: routing(), Weight: f.Weight}.Run(t, shared.Config())
}
