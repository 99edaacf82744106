package nginx_test

import (
	"encoding/json"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/conformance"
	"github.com/rampdev/ramp/internal/trafficrouting/nginx"
)

var (
	shared *cluster.Cluster
	admin  client.Client
	router client.Client
	writes *cluster.WriteCounter
)

func TestMain(m *testing.M) {
	clustertest.Main(m, app.Scheme(), []string{}, func(s clustertest.Shared) {
		shared, admin, router, writes = s.Cluster, s.Admin, s.Counted, s.Writes
	})
}

type fixture struct {
	ns string
	ro *v1alpha1.Rollout
	r  *nginx.Router
}

// newFixture creates a stable Ingress with content that is not the
// router's (a TLS block, another path, annotations) and the Rollout that
// owns the canary Ingress.
func newFixture(t *testing.T) conformance.Fixture {
	ns := clustertest.Namespace(t, admin)
	prefix := networkingv1.PathTypePrefix
	backend := func(svc string) networkingv1.IngressBackend {
		return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}
	}
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Annotations: map[string]string{"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("nginx"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"web.example.com"}, SecretName: "web-tls"}},
			Rules: []networkingv1.IngressRule{{Host: "web.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: "/", PathType: &prefix, Backend: backend("web-stable")},
				{Path: "/docs", PathType: &prefix, Backend: backend("docs")},
			}}}}},
		},
	}
	if err := admin.Create(t.Context(), ing); err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.RolloutSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a"}}}},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				StableService: "web-stable", CanaryService: "web-canary",
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "web", AdditionalIngressAnnotations: map[string]string{"canary-by-header": "x-canary"}}},
			}},
		},
	}
	if err := admin.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	r, err := nginx.New(router, router, ro)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ns: ns, ro: ro, r: r}
}

func (f *fixture) Router() trafficrouting.Router { return f.r }

func (f *fixture) canary(t *testing.T) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{}
	err := admin.Get(t.Context(), client.ObjectKey{Namespace: f.ns, Name: nginx.CanaryName("web", "web")}, ing)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return ing
}

func (f *fixture) Weight(t *testing.T) int32 {
	ing := f.canary(t)
	if ing == nil {
		return 0
	}
	w, err := strconv.Atoi(ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"])
	if err != nil || ing.Annotations["nginx.ingress.kubernetes.io/canary"] != "true" {
		t.Fatalf("canary Ingress annotations %v", ing.Annotations)
	}
	return int32(w)
}

func (f *fixture) Routes(*testing.T) ([]string, []string) { return nil, nil }

func (f *fixture) Foreign(t *testing.T) string {
	ing := &networkingv1.Ingress{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: f.ns, Name: "web"}, ing); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"annotations": ing.Annotations, "labels": ing.Labels, "spec": ing.Spec, "rv": ing.ResourceVersion})
	return string(b)
}

func (f *fixture) Writes() int { return writes.Count(f.ns) }

func (f *fixture) Remove(t *testing.T) {
	if err := admin.Delete(t.Context(), &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "web"}}); err != nil {
		t.Fatal(err)
	}
}

func TestNginxConforms(t *testing.T) {
	conformance.Suite{Name: "nginx", New: newFixture, NoDestinations: true, NoHeaderRoutes: true, NoMirrorRoutes: true}.Run(t)
}

// The canary Ingress: the stable one's paths of the stable Service, with
// the canary Service (the /docs path is left out), no
// TLS block (ingress-nginx takes it from the stable Ingress), the canary
// and additional annotations, owned by the Rollout.
func TestCanaryIngressShape(t *testing.T) {
	f := newFixture(t).(*fixture)
	if err := f.r.SetWeight(t.Context(), 25); err != nil {
		t.Fatal(err)
	}
	ing := f.canary(t)
	paths := ing.Spec.Rules[0].HTTP.Paths
	if len(paths) != 1 || paths[0].Backend.Service.Name != "web-canary" || paths[0].Path != "/" || len(ing.Spec.TLS) != 0 ||
		ptr.Deref(ing.Spec.IngressClassName, "") != "nginx" {
		b, _ := json.Marshal(ing.Spec)
		t.Errorf("canary spec %s", b)
	}
	if ing.Annotations["nginx.ingress.kubernetes.io/canary-by-header"] != "x-canary" || ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"] != "25" {
		t.Errorf("annotations %v", ing.Annotations)
	}
	if ref := metav1.GetControllerOf(ing); ref == nil || ref.UID != f.ro.UID {
		t.Errorf("owner %v", ref)
	}
}
