package alb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/alb"
	"github.com/rampdev/ramp/internal/trafficrouting/conformance"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from what the router writes")

var (
	shared *cluster.Cluster
	admin  client.Client
	router client.Client
	writes *cluster.WriteCounter
)

func TestMain(m *testing.M) {
	flag.Parse()
	clustertest.Main(m, app.Scheme(), []string{"testdata/elbv2.k8s.aws_targetgroupbindings.yaml"}, func(s clustertest.Shared) {
		shared, admin, router, writes = s.Cluster, s.Admin, s.Counted, s.Writes
	})
}

// ingress is an ALB Ingress routing / of web.example.com through the
// actions annotation of root, with content that is not the router's: an
// annotation, a second path, a TLS block.
func ingress(ns, name, root string) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{
			"alb.ingress.kubernetes.io/scheme":      "internet-facing",
			"alb.ingress.kubernetes.io/target-type": "ip",
		}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("alb"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"web.example.com"}}},
			Rules: []networkingv1.IngressRule{{Host: "web.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: root, Port: networkingv1.ServiceBackendPort{Name: alb.UseAnnotation}}}},
				{Path: "/docs", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "docs", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
			}}}}},
		},
	}
}

// rollout is a canary Rollout routed by cfg.
func rollout(ns, name string, cfg *v1alpha1.ALBTrafficRouting, edit ...func(*v1alpha1.CanaryStrategy)) *v1alpha1.Rollout {
	c := &v1alpha1.CanaryStrategy{
		StableService: "web-stable", CanaryService: "web-canary",
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: cfg, ManagedRoutes: []v1alpha1.MangedRoutes{{Name: "beta"}}},
	}
	for _, e := range edit {
		e(c)
	}
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.RolloutSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a"}}}},
			Strategy: v1alpha1.RolloutStrategy{Canary: c},
		},
	}
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := admin.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func get(t *testing.T, ns, name string) *networkingv1.Ingress {
	t.Helper()
	ing := &networkingv1.Ingress{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, ing); err != nil {
		t.Fatal(err)
	}
	return ing
}

type fixture struct {
	ns string
	r  *alb.Router
}

func newFixture(t *testing.T) conformance.Fixture {
	ns := clustertest.Namespace(t, admin)
	create(t, ingress(ns, "web", "web-stable"))
	r, err := alb.New(router, router, rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ns: ns, r: r}
}

func (f *fixture) Router() trafficrouting.Router { return f.r }

func (f *fixture) Weight(t *testing.T) int32 {
	v, ok := get(t, f.ns, "web").Annotations["alb.ingress.kubernetes.io/actions.web-stable"]
	if !ok {
		return 0
	}
	w, err := alb.CanaryWeight(v, "web-canary")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (f *fixture) Destinations(t *testing.T) map[string]int32 {
	v, ok := get(t, f.ns, "web").Annotations["alb.ingress.kubernetes.io/actions.web-stable"]
	if !ok {
		return nil
	}
	weights, err := alb.Weights(v)
	if err != nil {
		t.Fatal(err)
	}
	if sum := weights["web-canary"] + weights["web-stable"]; sum > 100 {
		t.Errorf("weights %v", weights)
	}
	delete(weights, "web-canary")
	delete(weights, "web-stable")
	return weights
}

func (f *fixture) Routes(t *testing.T) (headers, mirrors []string) {
	ing := get(t, f.ns, "web")
	for k := range ing.Annotations {
		if name, ok := strings.CutPrefix(k, "alb.ingress.kubernetes.io/conditions."); ok {
			headers = append(headers, name)
			if !slices.ContainsFunc(ing.Spec.Rules[0].HTTP.Paths, func(p networkingv1.HTTPIngressPath) bool { return p.Backend.Service.Name == name }) {
				t.Errorf("route %s has conditions but no path", name)
			}
		}
	}
	return headers, nil
}

func (f *fixture) Foreign(t *testing.T) string {
	ing := get(t, f.ns, "web")
	ann := maps.Clone(ing.Annotations)
	maps.DeleteFunc(ann, func(k, _ string) bool {
		return k == alb.ManagedAnnotationsKey || strings.Contains(k, "/actions.") || strings.Contains(k, "/conditions.")
	})
	for i := range ing.Spec.Rules {
		ing.Spec.Rules[i].HTTP.Paths = slices.DeleteFunc(ing.Spec.Rules[i].HTTP.Paths, func(p networkingv1.HTTPIngressPath) bool { return p.Path == "/*" })
	}
	b, _ := json.Marshal(map[string]any{"annotations": ann, "labels": ing.Labels, "spec": ing.Spec})
	return string(b)
}

func (f *fixture) Writes() int { return writes.Count(f.ns) }

func (f *fixture) Remove(t *testing.T) {
	if err := admin.Delete(t.Context(), get(t, f.ns, "web")); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	conformance.Suite{Name: "alb", New: newFixture, NoMirrorRoutes: true}.Run(t)
}

// TestGolden compares what the router writes on the Ingress with
// testdata/golden, one file per case (go test -run Golden -update
// rewrites them).
func TestGolden(t *testing.T) {
	beta := &v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "X-Beta", HeaderValue: &v1alpha1.StringMatch{Exact: "on"}},
		{HeaderName: "X-Beta", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}},
		{HeaderName: "X-Region", HeaderValue: &v1alpha1.StringMatch{Exact: "eu-*"}},
	}}
	cases := []struct {
		name string
		cfg  v1alpha1.ALBTrafficRouting
		edit func(*v1alpha1.CanaryStrategy)
		root string
		do   func(ctx context.Context, r *alb.Router) error
	}{
		{name: "weight-30", cfg: v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}, root: "web-stable",
			do: func(ctx context.Context, r *alb.Router) error { return r.SetWeight(ctx, 30) }},
		{name: "weight-0", cfg: v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 8080}, root: "web-stable",
			do: func(ctx context.Context, r *alb.Router) error { return r.SetWeight(ctx, 0) }},
		{name: "stickiness", cfg: v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80, StickinessConfig: &v1alpha1.StickinessConfig{Enabled: true, DurationSeconds: 3600}}, root: "web-stable",
			do: func(ctx context.Context, r *alb.Router) error { return r.SetWeight(ctx, 60) }},
		{name: "root-service-and-prefix", cfg: v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80, RootService: "web-root", AnnotationPrefix: "custom.alb.example.com"}, root: "web-root",
			do: func(ctx context.Context, r *alb.Router) error { return r.SetWeight(ctx, 10) }},
		{name: "header-route", cfg: v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80, StickinessConfig: &v1alpha1.StickinessConfig{Enabled: true, DurationSeconds: 60}}, root: "web-stable",
			do: func(ctx context.Context, r *alb.Router) error {
				if err := r.SetWeight(ctx, 20); err != nil {
					return err
				}
				return r.SetHeaderRoute(ctx, beta)
			}},
		{name: "ping-pong", cfg: v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80, RootService: "web-root"}, root: "web-root",
			edit: func(c *v1alpha1.CanaryStrategy) {
				c.StableService, c.CanaryService = "", ""
				c.PingPong = &v1alpha1.PingPongSpec{PingService: "web-ping", PongService: "web-pong"}
			},
			do: func(ctx context.Context, r *alb.Router) error { return r.SetWeight(ctx, 40) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := clustertest.Namespace(t, admin)
			create(t, ingress(ns, "web", tc.root))
			var edits []func(*v1alpha1.CanaryStrategy)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			r, err := alb.New(router, router, rollout(ns, "web", &tc.cfg, edits...), alb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.do(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			ing := get(t, ns, "web")
			got := golden(t, ing)
			file := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs:\n got: %s\nwant: %s", file, got, want)
			}
			lbcDecodes(t, ing)
		})
	}
}

// golden is what a user sees of the Ingress the router wrote: its
// annotations and rules.
func golden(t *testing.T, ing *networkingv1.Ingress) []byte {
	b, err := json.MarshalIndent(map[string]any{"annotations": ing.Annotations, "rules": ing.Spec.Rules}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// The AWS Load Balancer Controller's annotation schema, field for field
// as it documents it (its Go package cannot be imported: it does not
// build against this module's client-go). lbcDecodes decodes every
// actions. and conditions. annotation strictly and applies the checks the
// AWS Load Balancer Controller applies before it builds a rule.
type (
	lbcAction struct {
		Type            string            `json:"type"`
		TargetGroupARN  *string           `json:"targetGroupARN"`
		TargetGroupName *string           `json:"targetGroupName,omitempty"`
		ForwardConfig   *lbcForwardConfig `json:"forwardConfig,omitempty"`
	}
	lbcForwardConfig struct {
		TargetGroups                []lbcTargetGroup `json:"targetGroups"`
		TargetGroupStickinessConfig *struct {
			Enabled         *bool  `json:"enabled,omitempty"`
			DurationSeconds *int32 `json:"durationSeconds,omitempty"`
		} `json:"targetGroupStickinessConfig,omitempty"`
	}
	lbcTargetGroup struct {
		TargetGroupARN  *string             `json:"targetGroupARN"`
		TargetGroupName *string             `json:"targetGroupName,omitempty"`
		ServiceName     *string             `json:"serviceName"`
		ServicePort     *intstr.IntOrString `json:"servicePort"`
		Weight          *int32              `json:"weight,omitempty"`
	}
	lbcCondition struct {
		Field            string `json:"field"`
		HTTPHeaderConfig *struct {
			HTTPHeaderName string   `json:"httpHeaderName"`
			RegexValues    []string `json:"regexValues,omitempty"`
			Values         []string `json:"values,omitempty"`
		} `json:"httpHeaderConfig"`
	}
)

func lbcDecodes(t *testing.T, ing *networkingv1.Ingress) {
	t.Helper()
	strict := func(v string, into any) error {
		d := json.NewDecoder(strings.NewReader(v))
		d.DisallowUnknownFields()
		return d.Decode(into)
	}
	for k, v := range ing.Annotations {
		switch {
		case strings.Contains(k, "/actions."):
			var a lbcAction
			if err := strict(v, &a); err != nil {
				t.Errorf("%s: %v", k, err)
				continue
			}
			if a.Type != "forward" || a.ForwardConfig == nil || len(a.ForwardConfig.TargetGroups) == 0 {
				t.Errorf("%s: not a forward action with target groups: %s", k, v)
				continue
			}
			var sum int32
			for _, tg := range a.ForwardConfig.TargetGroups {
				switch {
				case tg.ServiceName == nil || tg.ServicePort == nil:
					t.Errorf("%s: a target group lacks serviceName or servicePort: %s", k, v)
				case tg.ServicePort.Type != intstr.Int:
					t.Errorf("%s: servicePort is not a number: %s", k, v)
				case tg.Weight == nil:
					t.Errorf("%s: weight must be set when routing to several target groups: %s", k, v)
				default:
					sum += *tg.Weight
				}
			}
			if sum != 100 {
				t.Errorf("%s: weights add up to %d: %s", k, sum, v)
			}
			if s := a.ForwardConfig.TargetGroupStickinessConfig; s != nil && (s.DurationSeconds == nil || *s.DurationSeconds < 1 || *s.DurationSeconds > 604800) {
				t.Errorf("%s: stickiness durationSeconds out of 1..604800: %s", k, v)
			}
			if !slices.ContainsFunc(ing.Spec.Rules[0].HTTP.Paths, func(p networkingv1.HTTPIngressPath) bool {
				return strings.HasSuffix(k, "/actions."+p.Backend.Service.Name) && p.Backend.Service.Port.Name == alb.UseAnnotation
			}) {
				t.Errorf("%s: no path uses it", k)
			}
		case strings.Contains(k, "/conditions."):
			var cs []lbcCondition
			if err := strict(v, &cs); err != nil {
				t.Errorf("%s: %v", k, err)
				continue
			}
			for _, c := range cs {
				if c.Field != "http-header" || c.HTTPHeaderConfig == nil || c.HTTPHeaderConfig.HTTPHeaderName == "" || len(c.HTTPHeaderConfig.Values) == 0 {
					t.Errorf("%s: not an http-header condition with values: %s", k, v)
				}
			}
		}
	}
}

func TestHeaderRouteRejectsWhatTheALBCannotMatch(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	create(t, ingress(ns, "web", "web-stable"))
	r, err := alb.New(router, router, rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := writes.Count(ns)
	err = r.SetHeaderRoute(t.Context(), &v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x", HeaderValue: &v1alpha1.StringMatch{Regex: "a.*"}}}})
	if err == nil || !strings.Contains(err.Error(), "exact header values only") {
		t.Errorf("regex match: %v", err)
	}
	if writes.Count(ns) != before {
		t.Error("a refused route wrote")
	}
}

// TestSharedIngress: two Rollouts route through one Ingress; each keeps
// its own keys, and removing one's routes leaves the other's.
func TestSharedIngress(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	ing := ingress(ns, "shared", "web-stable")
	path := ing.Spec.Rules[0].HTTP.Paths[0].DeepCopy()
	path.Path, path.Backend.Service.Name = "/api", "api-stable"
	ing.Spec.Rules[0].HTTP.Paths = append(ing.Spec.Rules[0].HTTP.Paths, *path)
	create(t, ing)
	web, err := alb.New(router, router, rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "shared", ServicePort: 80}), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	api, err := alb.New(router, router, rollout(ns, "api", &v1alpha1.ALBTrafficRouting{Ingress: "shared", ServicePort: 80}, func(c *v1alpha1.CanaryStrategy) {
		c.StableService, c.CanaryService = "api-stable", "api-canary"
		c.TrafficRouting.ManagedRoutes = []v1alpha1.MangedRoutes{{Name: "api-beta"}}
	}), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(web.SetWeight(ctx, 25))
	must(api.SetWeight(ctx, 75))
	must(web.SetHeaderRoute(ctx, &v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x-beta", HeaderValue: &v1alpha1.StringMatch{Exact: "1"}}}}))
	must(api.SetHeaderRoute(ctx, &v1alpha1.SetHeaderRoute{Name: "api-beta", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x-beta", HeaderValue: &v1alpha1.StringMatch{Exact: "1"}}}}))
	got := get(t, ns, "shared").Annotations[alb.ManagedAnnotationsKey]
	want := `{"api":["alb.ingress.kubernetes.io/actions.api-beta","alb.ingress.kubernetes.io/actions.api-stable","alb.ingress.kubernetes.io/conditions.api-beta"],"web":["alb.ingress.kubernetes.io/actions.beta","alb.ingress.kubernetes.io/actions.web-stable","alb.ingress.kubernetes.io/conditions.beta"]}`
	if got != want {
		t.Errorf("bookkeeping\n got %s\nwant %s", got, want)
	}
	must(web.RemoveManagedRoutes(ctx))
	after := get(t, ns, "shared")
	if _, ok := after.Annotations["alb.ingress.kubernetes.io/conditions.beta"]; ok {
		t.Error("web's route survived its removal")
	}
	if _, ok := after.Annotations["alb.ingress.kubernetes.io/conditions.api-beta"]; !ok {
		t.Error("removing web's routes removed api's")
	}
	var paths []string
	for _, p := range after.Spec.Rules[0].HTTP.Paths {
		paths = append(paths, p.Path+" "+p.Backend.Service.Name)
	}
	if want := []string{"/* api-beta", "/ web-stable", "/docs docs", "/api api-stable"}; !slices.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
	if w, _ := alb.CanaryWeight(after.Annotations["alb.ingress.kubernetes.io/actions.api-stable"], "api-canary"); w != 75 {
		t.Errorf("api's weight %d after web's routes were removed", w)
	}
}

func TestIngressClassFilter(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	ing := ingress(ns, "web", "web-stable")
	ing.Spec.IngressClassName = ptr.To("nginx")
	create(t, ing)
	ro := rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80})
	r, err := alb.New(router, router, ro, alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.SetWeight(t.Context(), 10)
	if err == nil || !strings.Contains(err.Error(), `Ingress web has class "nginx", not one the ALB router serves (alb; ramp-controller --alb-ingress-classes)`) {
		t.Errorf("an nginx Ingress: %v", err)
	}
	r, err = alb.New(router, router, ro, alb.Options{IngressClasses: []string{"alb", "nginx"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(t.Context(), 10); err != nil {
		t.Errorf("with nginx among the classes: %v", err)
	}
}

func TestIngressWithoutTheRootPath(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	create(t, ingress(ns, "web", "somebody-else"))
	r, err := alb.New(router, router, rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.SetWeight(t.Context(), 10)
	if err == nil || !strings.Contains(err.Error(), "Ingress web has no path with backend Service web-stable and port name use-annotation") {
		t.Errorf("got %v", err)
	}
}

func TestSeveralIngresses(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	create(t, ingress(ns, "a", "web-stable"), ingress(ns, "b", "web-stable"))
	r, err := alb.New(router, router, rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingresses: []string{"a", "b"}, ServicePort: 80}), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(t.Context(), 45); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if w, err := alb.CanaryWeight(get(t, ns, name).Annotations["alb.ingress.kubernetes.io/actions.web-stable"], "web-canary"); err != nil || w != 45 {
			t.Errorf("Ingress %s: weight %d, %v", name, w, err)
		}
	}
}

// TestArgoAnnotationsAreRead: an Ingress a migrating user's Argo Rollouts
// wrote (capitalised keys, a string port) reads back the same, and is
// rewritten in the AWS Load Balancer Controller's documented form.
func TestArgoAnnotationsAreRead(t *testing.T) {
	argo := `{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"web-canary","ServicePort":"80","Weight":20},{"ServiceName":"web-stable","ServicePort":"80","Weight":80}]}}`
	if w, err := alb.CanaryWeight(argo, "web-canary"); err != nil || w != 20 {
		t.Errorf("CanaryWeight of Argo's annotation: %d, %v", w, err)
	}
}
