package gatewayapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/conformance"
	"github.com/rampdev/ramp/internal/trafficrouting/gatewayapi"
)

var (
	shared *cluster.Cluster
	admin  client.Client // the test's own client
	router client.Client // the router's client, its writes counted
	writes *cluster.WriteCounter
)

func TestMain(m *testing.M) {
	clustertest.Main(m, scheme(), []string{"testdata/gateway.networking.k8s.io_httproutes.yaml", "testdata/gateway.networking.k8s.io_grpcroutes.yaml", "testdata/gateway.networking.k8s.io_tcproutes.yaml"}, func(s clustertest.Shared) {
		shared, admin, router, writes = s.Cluster, s.Admin, s.Counted, s.Writes
	})
}

// scheme has Kubernetes' and Gateway API's types.
func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = gwv1.Install(s)
	_ = clientgoscheme.AddToScheme(s)
	return s
}

// fixture is one HTTPRoute, with content that is not the router's: a
// hostname, parentRefs, annotations, a filter, and a second rule.
type fixture struct {
	ns  string
	r   *gatewayapi.Router
	tcp bool // a TCPRoute "db" is weighted too
}

func newFixture(t *testing.T) conformance.Fixture {
	ns := clustertest.Namespace(t, admin)
	port := gwv1.PortNumber(80)
	route := &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Annotations: map[string]string{"team": "web"}},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "public"}}},
			Hostnames:       []gwv1.Hostname{"web.example.com"},
			Rules: []gwv1.HTTPRouteRule{
				{
					Name:    ptr.To(gwv1.SectionName("main")),
					Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchPathPrefix), Value: ptr.To("/")}}},
					Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Add: []gwv1.HTTPHeader{{Name: "X-Via", Value: "gw"}}}}},
					BackendRefs: []gwv1.HTTPBackendRef{
						{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web-stable", Port: &port}, Weight: ptr.To[int32](100)}},
						{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web-canary", Port: &port}, Weight: ptr.To[int32](0)}},
					},
				},
				{
					Name:        ptr.To(gwv1.SectionName("docs")),
					Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchPathPrefix), Value: ptr.To("/docs")}}},
					BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "docs", Port: &port}}}},
				},
			},
		},
	}
	if err := admin.Create(t.Context(), route); err != nil {
		t.Fatal(err)
	}
	r, err := gatewayapi.New(router, router, rollout(ns, &v1alpha1.GatewayAPITrafficRouting{HTTPRoute: "web"}))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ns: ns, r: r}
}

func rollout(ns string, g *v1alpha1.GatewayAPITrafficRouting) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			StableService: "web-stable", CanaryService: "web-canary",
			TrafficRouting: &v1alpha1.RolloutTrafficRouting{GatewayAPI: g},
		}}},
	}
}

func (f *fixture) route(t *testing.T) *gwv1.HTTPRoute {
	t.Helper()
	r := &gwv1.HTTPRoute{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: f.ns, Name: "web"}, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) Router() trafficrouting.Router { return f.r }

func (f *fixture) Weight(t *testing.T) int32 {
	w := f.httpWeight(t)
	if f.tcp {
		if tw := f.tcpWeight(t); tw != w {
			t.Errorf("the TCPRoute's canary weight is %d, the HTTPRoute's %d", tw, w)
		}
	}
	return w
}

func (f *fixture) httpWeight(t *testing.T) int32 {
	for _, rule := range f.route(t).Spec.Rules {
		if rule.Name != nil && *rule.Name == "main" {
			var stable, canary int32
			for _, ref := range rule.BackendRefs {
				switch ref.Name {
				case "web-stable":
					stable = ptr.Deref(ref.Weight, 1)
				case "web-canary":
					canary = ptr.Deref(ref.Weight, 1)
				}
			}
			if stable+canary != 100 {
				t.Errorf("weights stable %d + canary %d != 100", stable, canary)
			}
			return canary
		}
	}
	t.Fatal("rule main is gone")
	return 0
}

func (f *fixture) Routes(t *testing.T) (headers, mirrors []string) {
	for _, rule := range f.route(t).Spec.Rules {
		name := string(ptr.Deref(rule.Name, ""))
		switch {
		case strings.HasPrefix(name, "ramp-header-"):
			headers = append(headers, strings.TrimPrefix(name, "ramp-header-"))
		case strings.HasPrefix(name, "ramp-mirror-"):
			mirrors = append(mirrors, strings.TrimPrefix(name, "ramp-mirror-"))
		}
	}
	return headers, mirrors
}

func (f *fixture) Foreign(t *testing.T) string {
	r := f.route(t)
	var rules []gwv1.HTTPRouteRule
	for _, rule := range r.Spec.Rules {
		if strings.HasPrefix(string(ptr.Deref(rule.Name, "")), "ramp-") {
			continue
		}
		for i := range rule.BackendRefs {
			if rule.BackendRefs[i].Name == "web-stable" || rule.BackendRefs[i].Name == "web-canary" {
				rule.BackendRefs[i].Weight = nil
			}
		}
		rules = append(rules, rule)
	}
	r.Spec.Rules = rules
	b, _ := json.Marshal(map[string]any{"annotations": r.Annotations, "labels": r.Labels, "spec": r.Spec})
	if f.tcp {
		tcp := f.tcpRoute(t)
		rules, _, _ := unstructured.NestedSlice(tcp.Object, "spec", "rules")
		for _, x := range rules {
			refs, _ := x.(map[string]any)["backendRefs"].([]any)
			for _, y := range refs {
				if ref := y.(map[string]any); ref["name"] != "replica" {
					delete(ref, "weight")
				}
			}
		}
		spec, _ := json.Marshal(rules)
		b = append(b, spec...)
		b = append(b, []byte(fmt.Sprint(tcp.GetAnnotations()))...)
	}
	return string(b)
}

const tcpRoute = `
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata:
  name: db
  annotations: {team: db}
spec:
  parentRefs: [{name: public, sectionName: mysql}]
  rules:
  - name: main
    backendRefs:
    - {name: web-stable, port: 3306, weight: 100}
    - {name: web-canary, port: 3306, weight: 0}
    - {name: replica, port: 3306, weight: 0}
`

// newTCPFixture is newFixture's HTTPRoute plus a TCPRoute, both weighted
// by one router (the TCPRoute takes no header or mirror rule).
func newTCPFixture(t *testing.T) conformance.Fixture {
	f := newFixture(t).(*fixture)
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(tcpRoute), &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(f.ns)
	if err := admin.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	r, err := gatewayapi.New(router, router, rollout(f.ns, &v1alpha1.GatewayAPITrafficRouting{HTTPRoute: "web", TCPRoute: "db"}))
	if err != nil {
		t.Fatal(err)
	}
	f.r, f.tcp = r, true
	return f
}

func (f *fixture) tcpRoute(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gatewayapi.TCPRoute)
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: f.ns, Name: "db"}, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func (f *fixture) tcpWeight(t *testing.T) int32 {
	rules, _, _ := unstructured.NestedSlice(f.tcpRoute(t).Object, "spec", "rules")
	for _, x := range rules {
		rule := x.(map[string]any)
		if rule["name"] != "main" {
			continue
		}
		var stable, canary int64
		refs, _ := rule["backendRefs"].([]any)
		for _, y := range refs {
			ref := y.(map[string]any)
			w, _ := ref["weight"].(int64)
			switch ref["name"] {
			case "web-stable":
				stable = w
			case "web-canary":
				canary = w
			}
		}
		if stable+canary != 100 {
			t.Errorf("TCPRoute weights stable %d + canary %d != 100", stable, canary)
		}
		return int32(canary)
	}
	t.Fatal("TCPRoute rule main is gone")
	return 0
}

func (f *fixture) Writes() int { return writes.Count(f.ns) }

func (f *fixture) Remove(t *testing.T) {
	if err := admin.Delete(t.Context(), f.route(t)); err != nil {
		t.Fatal(err)
	}
}

func TestGatewayAPIConforms(t *testing.T) {
	conformance.Suite{Name: "gatewayAPI", New: newFixture, NoDestinations: true}.Run(t)
}

// With a TCPRoute (experimental channel) beside the HTTPRoute: both carry
// every weight, the TCPRoute never gets header or mirror rules, and what is
// not the router's in it is untouched.
func TestGatewayAPIWithATCPRouteConforms(t *testing.T) {
	conformance.Suite{Name: "gatewayAPI-tcp", New: newTCPFixture, NoDestinations: true}.Run(t)
}

// A cluster that serves no TCPRoute: the router says so, naming the route
// and the channel, and counts it missing (nothing to reset on deletion).
func TestTCPRouteNotServed(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	r, err := gatewayapi.New(noTCPRoutes{router}, router, rollout(ns, &v1alpha1.GatewayAPITrafficRouting{TCPRoute: "db"}))
	if err != nil {
		t.Fatal(err)
	}
	err = r.SetWeight(t.Context(), 10)
	if err == nil || !errors.Is(err, trafficrouting.ErrMissing) || !strings.Contains(err.Error(), `TCPRoute "db": the cluster does not serve TCPRoutes`) {
		t.Errorf("error %v", err)
	}
}

// noTCPRoutes is the API server's reader as seen in a cluster without
// Gateway API's experimental channel: no kind TCPRoute.
type noTCPRoutes struct{ client.Reader }

func (n noTCPRoutes) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if gvk := obj.GetObjectKind().GroupVersionKind(); gvk.Kind == "TCPRoute" {
		return &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
	}
	return n.Reader.Get(ctx, key, obj, opts...)
}

// The header rule keeps the base rule's path and adds the header; the
// API server accepts it (its CEL rules included).
func TestHeaderRuleShape(t *testing.T) {
	f := newFixture(t).(*fixture)
	err := f.r.SetHeaderRoute(t.Context(), &v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "x-beta", HeaderValue: &v1alpha1.StringMatch{Exact: "on"}},
		{HeaderName: "x-tier", HeaderValue: &v1alpha1.StringMatch{Prefix: "gold"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var rule *gwv1.HTTPRouteRule
	for _, r := range f.route(t).Spec.Rules {
		if ptr.Deref(r.Name, "") == "ramp-header-beta" {
			rule = &r
		}
	}
	if rule == nil {
		t.Fatal("no header rule")
	}
	m := rule.Matches[0]
	if ptr.Deref(m.Path.Value, "") != "/" || len(m.Headers) != 2 || m.Headers[0].Value != "on" || m.Headers[1].Value != "^gold.*" ||
		len(rule.BackendRefs) != 1 || rule.BackendRefs[0].Name != "web-canary" || *rule.BackendRefs[0].Port != 80 {
		b, _ := json.Marshal(rule)
		t.Errorf("header rule %s", b)
	}
}

// A GRPCRoute is weighted as an HTTPRoute is, and the API server accepts
// the result.
func TestGRPCRouteWeights(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	port := gwv1.PortNumber(9000)
	route := &gwv1.GRPCRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: gwv1.GRPCRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "public"}}},
			Rules: []gwv1.GRPCRouteRule{{BackendRefs: []gwv1.GRPCBackendRef{
				{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web-stable", Port: &port}, Weight: ptr.To[int32](100)}},
				{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web-canary", Port: &port}, Weight: ptr.To[int32](0)}},
			}}},
		},
	}
	if err := admin.Create(t.Context(), route); err != nil {
		t.Fatal(err)
	}
	r, err := gatewayapi.New(router, router, rollout(ns, &v1alpha1.GatewayAPITrafficRouting{GRPCRoute: "api"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(t.Context(), 30); err != nil {
		t.Fatal(err)
	}
	got := &gwv1.GRPCRoute{}
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(route), got); err != nil {
		t.Fatal(err)
	}
	weights := map[gwv1.ObjectName]int32{}
	for _, ref := range got.Spec.Rules[0].BackendRefs {
		weights[ref.Name] = ptr.Deref(ref.Weight, 1)
	}
	if weights["web-stable"] != 70 || weights["web-canary"] != 30 {
		t.Errorf("GRPCRoute weights %v; want web-stable 70, web-canary 30", weights)
	}
}
