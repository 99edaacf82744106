package istio_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/conformance"
	"github.com/rampdev/ramp/internal/trafficrouting/istio"
)

var (
	shared *cluster.Cluster
	admin  client.Client
	router client.Client
	writes *cluster.WriteCounter
)

func TestMain(m *testing.M) {
	clustertest.Main(m, app.Scheme(), []string{"testdata/istio-networking.yaml"}, func(s clustertest.Shared) {
		shared, admin, router, writes = s.Cluster, s.Admin, s.Counted, s.Writes
	})
}

const virtualService = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
  annotations: {team: web}
spec:
  hosts: [web.example.com]
  gateways: [public]
  http:
    - name: primary
      match: [{uri: {prefix: /}}]
      retries: {attempts: 3, perTryTimeout: 2s}
      route:
        - destination: {host: web-stable, port: {number: 80}}
          weight: 100
        - destination: {host: web-canary, port: {number: 80}}
          weight: 0
    - name: docs
      match: [{uri: {prefix: /docs}}]
      route:
        - destination: {host: docs}
  tcp:
    - match: [{port: 3306}]
      route:
        - destination: {host: web-stable, port: {number: 3306}}
          weight: 100
        - destination: {host: web-canary, port: {number: 3306}}
          weight: 0
`

type fixture struct {
	ns string
	r  *istio.Router
}

func newFixture(t *testing.T) conformance.Fixture { return newFixtureAt(t, router, "") }

func newFixtureAt(t *testing.T, router client.Client, version string) conformance.Fixture {
	ns := clustertest.Namespace(t, admin)
	vs := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(virtualService), &vs.Object); err != nil {
		t.Fatal(err)
	}
	vs.SetNamespace(ns)
	if err := admin.Create(t.Context(), vs); err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			StableService: "web-stable", CanaryService: "web-canary",
			TrafficRouting: &v1alpha1.RolloutTrafficRouting{
				Istio:         &v1alpha1.IstioTrafficRouting{VirtualService: &v1alpha1.IstioVirtualService{Name: "web", Routes: []string{"primary"}, TCPRoutes: []v1alpha1.TCPRoute{{Port: 3306}}}},
				ManagedRoutes: []v1alpha1.MangedRoutes{{Name: "beta"}, {Name: "shadow"}},
			},
		}}},
	}
	r, err := istio.New(router, router, ro, version)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ns: ns, r: r}
}

func (f *fixture) vs(t *testing.T) map[string]any {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(istio.VirtualService)
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: f.ns, Name: "web"}, obj); err != nil {
		t.Fatal(err)
	}
	return obj.Object
}

func (f *fixture) Router() trafficrouting.Router { return f.r }

// weights reads the canary and stable weights of a route; with the other
// destinations' they add up to 100.
func weights(t *testing.T, route map[string]any) (canary, stable int64) {
	var others int64
	for _, x := range route["route"].([]any) {
		d := x.(map[string]any)
		w, _ := d["weight"].(int64)
		switch d["destination"].(map[string]any)["host"] {
		case "web-canary":
			canary = w
		case "web-stable":
			stable = w
		default:
			others += w
		}
	}
	if canary+stable+others != 100 {
		t.Errorf("route %v: weights do not add up to 100", route)
	}
	return canary, stable
}

func (f *fixture) Weight(t *testing.T) int32 {
	spec := f.vs(t)["spec"].(map[string]any)
	var httpWeight int64 = -1
	for _, x := range spec["http"].([]any) {
		if route := x.(map[string]any); route["name"] == "primary" {
			httpWeight, _ = weights(t, route)
		}
	}
	tcpWeight, _ := weights(t, spec["tcp"].([]any)[0].(map[string]any))
	if tcpWeight != httpWeight {
		t.Errorf("HTTP weight %d, TCP weight %d", httpWeight, tcpWeight)
	}
	return int32(httpWeight)
}

// Destinations are the primary HTTP route's other destinations; the TCP
// route has the same.
func (f *fixture) Destinations(t *testing.T) map[string]int32 {
	spec := f.vs(t)["spec"].(map[string]any)
	others := func(route map[string]any) map[string]int32 {
		out := map[string]int32{}
		for _, x := range route["route"].([]any) {
			d := x.(map[string]any)
			w, _ := d["weight"].(int64)
			if host := d["destination"].(map[string]any)["host"].(string); host != "web-canary" && host != "web-stable" {
				out[host] = int32(w)
			}
		}
		return out
	}
	var http map[string]int32
	for _, x := range spec["http"].([]any) {
		if route := x.(map[string]any); route["name"] == "primary" {
			http = others(route)
		}
	}
	if tcp := others(spec["tcp"].([]any)[0].(map[string]any)); !maps.Equal(tcp, http) {
		t.Errorf("HTTP destinations %v, TCP %v", http, tcp)
	}
	return http
}

func (f *fixture) Routes(t *testing.T) (headers, mirrors []string) {
	for _, x := range f.vs(t)["spec"].(map[string]any)["http"].([]any) {
		switch name := x.(map[string]any)["name"]; name {
		case "beta":
			headers = append(headers, "beta")
		case "shadow":
			mirrors = append(mirrors, "shadow")
		}
	}
	return headers, mirrors
}

func (f *fixture) Foreign(t *testing.T) string {
	obj := f.vs(t)
	spec := obj["spec"].(map[string]any)
	var http []any
	for _, x := range spec["http"].([]any) {
		route := x.(map[string]any)
		if route["name"] == "beta" || route["name"] == "shadow" {
			continue
		}
		for _, y := range route["route"].([]any) {
			delete(y.(map[string]any), "weight")
		}
		http = append(http, route)
	}
	spec["http"] = http
	for _, x := range spec["tcp"].([]any) {
		for _, y := range x.(map[string]any)["route"].([]any) {
			delete(y.(map[string]any), "weight")
		}
	}
	b, _ := json.Marshal(map[string]any{"annotations": obj["metadata"].(map[string]any)["annotations"], "spec": spec})
	return string(b)
}

func (f *fixture) Writes() int { return writes.Count(f.ns) }

func (f *fixture) Remove(t *testing.T) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(istio.VirtualService)
	obj.SetNamespace(f.ns)
	obj.SetName("web")
	if err := admin.Delete(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
}

func TestIstioConforms(t *testing.T) {
	conformance.Suite{Name: "istio", New: newFixture}.Run(t)
}

// --istio-api-version: the router passes the suite at Istio's older API
// versions too, and asks for no other.
func TestIstioConformsAtOlderAPIVersions(t *testing.T) {
	for _, version := range []string{"v1beta1", "v1alpha3"} {
		t.Run(version, func(t *testing.T) {
			var mu sync.Mutex
			var paths []string
			cfg := rest.CopyConfig(shared.Config())
			cfg.Wrap(writes.Wrap)
			cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
				return roundTripper(func(r *http.Request) (*http.Response, error) {
					if strings.Contains(r.URL.Path, "networking.istio.io") {
						mu.Lock()
						paths = append(paths, r.URL.Path)
						mu.Unlock()
					}
					return rt.RoundTrip(r)
				})
			})
			recorded, err := client.New(cfg, client.Options{Scheme: app.Scheme()})
			if err != nil {
				t.Fatal(err)
			}
			conformance.Suite{Name: "istio-" + version, New: func(t *testing.T) conformance.Fixture {
				return newFixtureAt(t, recorded, version)
			}}.Run(t)
			mu.Lock()
			defer mu.Unlock()
			if len(paths) == 0 {
				t.Fatal("the router made no request")
			}
			for _, p := range paths {
				if !strings.HasPrefix(p, "/apis/networking.istio.io/"+version+"/") {
					t.Fatalf("request to %s, want only %s", p, version)
				}
			}
		})
	}
	if _, err := istio.New(router, router, &v1alpha1.Rollout{}, "v2"); err == nil || !strings.Contains(err.Error(), `istio API version "v2"`) {
		t.Errorf("version v2: %v", err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// With a DestinationRule, the split is by subset, and the subsets follow
// the ReplicaSets' hashes.
func TestSubsetLevelSplit(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	for _, doc := range []string{`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  subsets:
    - {name: stable, labels: {app: web}}
    - {name: canary, labels: {app: web}}
    - {name: debug, labels: {app: web, debug: "true"}}
`, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
    - name: primary
      route:
        - {destination: {host: web, subset: stable}, weight: 100}
        - {destination: {host: web, subset: canary}, weight: 0}
`} {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		obj.SetNamespace(ns)
		if err := admin.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{Istio: &v1alpha1.IstioTrafficRouting{
			VirtualService:  &v1alpha1.IstioVirtualService{Name: "web"},
			DestinationRule: &v1alpha1.IstioDestinationRule{Name: "web", CanarySubsetName: "canary", StableSubsetName: "stable"},
		}},
	}}}}
	r, err := istio.New(router, router, ro, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateHash(t.Context(), "c4n4ry", "st4bl3"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(t.Context(), 25); err != nil {
		t.Fatal(err)
	}
	dr := &unstructured.Unstructured{}
	dr.SetGroupVersionKind(istio.DestinationRule)
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "web"}, dr); err != nil {
		t.Fatal(err)
	}
	subsets, _, _ := unstructured.NestedSlice(dr.Object, "spec", "subsets")
	got := map[string]any{}
	for _, s := range subsets {
		m := s.(map[string]any)
		got[m["name"].(string)] = m["labels"].(map[string]any)[v1alpha1.DefaultRolloutUniqueLabelKey]
	}
	if got["canary"] != "c4n4ry" || got["stable"] != "st4bl3" || got["debug"] != nil {
		t.Errorf("subset hashes %v", got)
	}
	vs := &unstructured.Unstructured{}
	vs.SetGroupVersionKind(istio.VirtualService)
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "web"}, vs); err != nil {
		t.Fatal(err)
	}
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	dests := http[0].(map[string]any)["route"].([]any)
	if dests[0].(map[string]any)["weight"] != int64(75) || dests[1].(map[string]any)["weight"] != int64(25) {
		t.Errorf("weights %v", dests)
	}
}
