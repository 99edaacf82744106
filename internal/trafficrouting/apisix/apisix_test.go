package apisix_test

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/apisix"
	"github.com/rampdev/ramp/internal/trafficrouting/conformance"
)

var (
	shared *cluster.Cluster
	admin  client.Client
	router client.Client
	writes *cluster.WriteCounter
)

func TestMain(m *testing.M) {
	clustertest.Main(m, app.Scheme(), []string{"testdata/ApisixRoute.yaml"}, func(s clustertest.Shared) {
		shared, admin, router, writes = s.Cluster, s.Admin, s.Counted, s.Writes
	})
}

// apisixRoute has a weighted rule with conditions and a plugin, and a rule
// that is not the router's.
const apisixRoute = `
apiVersion: apisix.apache.org/v2
kind: ApisixRoute
metadata:
  name: web
  annotations: {team: web}
spec:
  ingressClassName: apisix
  http:
  - name: main
    priority: 2
    match:
      hosts: [web.example.com]
      paths: ["/*"]
      exprs:
      - subject: {scope: Query, name: region}
        op: Equal
        value: eu
    plugins:
    - {name: cors, enable: true}
    backends:
    - {serviceName: web-stable, servicePort: 80, weight: 100}
    - {serviceName: web-canary, servicePort: 80, weight: 0}
  - name: docs
    match:
      paths: ["/docs/*"]
    backends:
    - {serviceName: docs, servicePort: 80}
`

type fixture struct {
	ns string
	r  trafficrouting.Router
}

func routing() v1alpha1.RolloutTrafficRouting {
	return v1alpha1.RolloutTrafficRouting{
		Apisix:        &v1alpha1.ApisixTrafficRouting{Route: &v1alpha1.ApisixRoute{Name: "web", Rules: []string{"main"}}},
		ManagedRoutes: []v1alpha1.MangedRoutes{{Name: "beta"}},
	}
}

// createRoute makes a namespace with the ApisixRoute.
func createRoute(t *testing.T) string {
	ns := clustertest.Namespace(t, admin)
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(apisixRoute), &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	if err := admin.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	return ns
}

func newFixture(t *testing.T) conformance.Fixture {
	ns := createRoute(t)
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
	// Header routes are owned by the Rollout: it must exist.
	if err := admin.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	r, err := apisix.New(router, router, ro)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ns: ns, r: r}
}

func (f *fixture) get(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(apisix.ApisixRoute)
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: f.ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func (f *fixture) Router() trafficrouting.Router { return f.r }

func (f *fixture) Weight(t *testing.T) int32 {
	http, _, _ := unstructured.NestedSlice(f.get(t, "web").Object, "spec", "http")
	for _, x := range http {
		rule := x.(map[string]any)
		if rule["name"] != "main" {
			continue
		}
		var stable, canary int64
		for _, y := range rule["backends"].([]any) {
			b := y.(map[string]any)
			w, _ := b["weight"].(int64)
			switch b["serviceName"] {
			case "web-stable":
				stable = w
			case "web-canary":
				canary = w
			}
		}
		if stable+canary != 100 {
			t.Errorf("weights stable %d + canary %d != 100", stable, canary)
		}
		return int32(canary)
	}
	t.Fatal("rule main is gone")
	return 0
}

// Routes are the header routes' ApisixRoutes (APISIX mirrors nothing).
func (f *fixture) Routes(t *testing.T) (headers, mirrors []string) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(apisix.ApisixRoute.GroupVersion().WithKind("ApisixRouteList"))
	if err := admin.List(t.Context(), list, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	for _, item := range list.Items {
		if name, ok := strings.CutPrefix(item.GetName(), "web-header-"); ok {
			headers = append(headers, name)
			f.checkHeaderRoute(t, &item)
		}
	}
	return headers, nil
}

// checkHeaderRoute: the rule keeps its conditions, adds the header's, is
// one priority higher, and sends to the canary alone.
func (f *fixture) checkHeaderRoute(t *testing.T, obj *unstructured.Unstructured) {
	http, _, _ := unstructured.NestedSlice(obj.Object, "spec", "http")
	if len(http) != 1 {
		t.Fatalf("header route rules %v", http)
	}
	b, _ := json.Marshal(http[0])
	for _, want := range []string{`"priority":3`, `"name":"region"`, `{"name":"x-beta","scope":"Header"}`, `"op":"Equal"`, `"backends":[{"serviceName":"web-canary","servicePort":80,"weight":100}]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("header route rule %s lacks %s", b, want)
		}
	}
	if ref := metav1.GetControllerOf(obj); ref == nil || ref.Kind != "Rollout" || ref.Name != "web" {
		t.Errorf("header route owner %v", obj.GetOwnerReferences())
	}
}

func (f *fixture) Foreign(t *testing.T) string {
	obj := f.get(t, "web")
	http, _, _ := unstructured.NestedSlice(obj.Object, "spec", "http")
	for _, x := range http {
		rule := x.(map[string]any)
		backends, _ := rule["backends"].([]any)
		for _, y := range backends {
			if b := y.(map[string]any); strings.HasPrefix(b["serviceName"].(string), "web-") {
				delete(b, "weight")
			}
		}
	}
	_ = unstructured.SetNestedSlice(obj.Object, http, "spec", "http")
	b, _ := json.Marshal(map[string]any{"annotations": obj.GetAnnotations(), "labels": obj.GetLabels(), "spec": obj.Object["spec"]})
	return string(b)
}

func (f *fixture) Writes() int { return writes.Count(f.ns) }

func (f *fixture) Remove(t *testing.T) {
	if err := admin.Delete(t.Context(), f.get(t, "web")); err != nil {
		t.Fatal(err)
	}
}

func TestApisixConforms(t *testing.T) {
	conformance.Suite{Name: "apisix", New: newFixture, NoDestinations: true, NoMirrorRoutes: true}.Run(t)
}

// A canary through an ApisixRoute with ramp-controller.
func TestCanaryThroughAnApisixRoute(t *testing.T) {
	f := &fixture{ns: createRoute(t)}
	conformance.Canary{Namespace: f.ns, Routing: routing(), Weight: f.Weight}.Run(t, shared.Config())
}
