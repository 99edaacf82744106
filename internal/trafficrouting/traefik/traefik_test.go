package traefik_test

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/conformance"
	"github.com/rampdev/ramp/internal/trafficrouting/traefik"
)

var (
	shared *cluster.Cluster
	admin  client.Client
	router client.Client
	writes *cluster.WriteCounter
)

func TestMain(m *testing.M) {
	clustertest.Main(m, app.Scheme(), []string{"testdata/traefik.io_traefikservices.yaml"}, func(s clustertest.Shared) {
		shared, admin, router, writes = s.Cluster, s.Admin, s.Counted, s.Writes
	})
}

// traefikService is a weighted TraefikService with content that is not
// the router's: a sticky cookie, a third service, ports, an annotation.
const traefikService = `
apiVersion: traefik.io/v1alpha1
kind: TraefikService
metadata:
  name: web
  annotations: {team: web}
spec:
  weighted:
    sticky:
      cookie: {name: lb, secure: true}
    services:
    - {name: web-stable, port: 80, weight: 100}
    - {name: web-canary, port: 80, weight: 0}
    - {name: web-canary, kind: TraefikService, weight: 0}
    - {name: sorry, port: 8080, weight: 0}
`

type fixture struct {
	ns string
	r  trafficrouting.Router
}

func newFixture(t *testing.T) conformance.Fixture {
	ns := createService(t)
	r, err := traefik.New(router, router, rollout(ns), "")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ns: ns, r: r}
}

func createService(t *testing.T) string {
	ns := clustertest.Namespace(t, admin)
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(traefikService), &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	if err := admin.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	return ns
}

func routing() v1alpha1.RolloutTrafficRouting {
	return v1alpha1.RolloutTrafficRouting{Traefik: &v1alpha1.TraefikTrafficRouting{WeightedTraefikServiceName: "web"}}
}

func rollout(ns string) *v1alpha1.Rollout {
	tr := routing()
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			StableService: "web-stable", CanaryService: "web-canary", TrafficRouting: &tr,
		}}},
	}
}

func (f *fixture) get(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("traefik.io/v1alpha1")
	obj.SetKind("TraefikService")
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: f.ns, Name: "web"}, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func (f *fixture) Router() trafficrouting.Router { return f.r }

func (f *fixture) Weight(t *testing.T) int32 { return weight(t, f.get(t)) }

// weight is the canary Service's weight; stable and canary must add up to
// 100, and the others keep theirs.
func weight(t *testing.T, obj *unstructured.Unstructured) int32 {
	services, _, _ := unstructured.NestedSlice(obj.Object, "spec", "weighted", "services")
	var stable, canary int64
	for _, x := range services {
		svc := x.(map[string]any)
		w, _ := svc["weight"].(int64)
		switch {
		case svc["kind"] == "TraefikService" || svc["name"] == "sorry":
			if w != 0 {
				t.Errorf("%v: a service that is not the router's was weighted", svc)
			}
		case svc["name"] == "web-stable":
			stable = w
		case svc["name"] == "web-canary":
			canary = w
		}
	}
	if stable+canary != 100 {
		t.Errorf("weights stable %d + canary %d != 100", stable, canary)
	}
	return int32(canary)
}

func (f *fixture) Routes(*testing.T) (headers, mirrors []string) { return nil, nil }

func (f *fixture) Foreign(t *testing.T) string {
	obj := f.get(t)
	services, _, _ := unstructured.NestedSlice(obj.Object, "spec", "weighted", "services")
	for _, x := range services {
		if svc := x.(map[string]any); svc["kind"] == nil && strings.HasPrefix(svc["name"].(string), "web-") {
			delete(svc, "weight")
		}
	}
	_ = unstructured.SetNestedSlice(obj.Object, services, "spec", "weighted", "services")
	b, _ := json.Marshal(map[string]any{"annotations": obj.GetAnnotations(), "labels": obj.GetLabels(), "spec": obj.Object["spec"]})
	return string(b)
}

func (f *fixture) Writes() int { return writes.Count(f.ns) }

func (f *fixture) Remove(t *testing.T) {
	if err := admin.Delete(t.Context(), f.get(t)); err != nil {
		t.Fatal(err)
	}
}

func TestTraefikConforms(t *testing.T) {
	conformance.Suite{Name: "traefik", New: newFixture, NoDestinations: true, NoHeaderRoutes: true, NoMirrorRoutes: true}.Run(t)
}

// A canary through a TraefikService with ramp-controller.
func TestCanaryThroughATraefikService(t *testing.T) {
	f := &fixture{ns: createService(t)}
	conformance.Canary{Namespace: f.ns, Routing: routing(), Weight: f.Weight}.Run(t, shared.Config())
}

// --traefik-api-version: Traefik before 2.10 serves traefik.containo.us.
func TestAPIVersions(t *testing.T) {
	if _, err := traefik.New(router, router, rollout("x"), "traefik.containo.us/v1alpha1"); err != nil {
		t.Error(err)
	}
	if _, err := traefik.New(router, router, rollout("x"), "traefik.io/v2"); err == nil || !strings.Contains(err.Error(), `traefik API version "traefik.io/v2": must be one of traefik.io/v1alpha1, traefik.containo.us/v1alpha1`) {
		t.Errorf("traefik.io/v2: %v", err)
	}
}
