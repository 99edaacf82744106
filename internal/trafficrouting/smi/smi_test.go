package smi_test

import (
	"fmt"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/conformance"
	"github.com/rampdev/ramp/internal/trafficrouting/smi"
)

var (
	shared *cluster.Cluster
	admin  client.Client
	router client.Client
	writes *cluster.WriteCounter
)

func TestMain(m *testing.M) {
	clustertest.Main(m, app.Scheme(), []string{"testdata/split.yaml"}, func(s clustertest.Shared) {
		shared, admin, router, writes = s.Cluster, s.Admin, s.Counted, s.Writes
	})
}

type fixture struct {
	ns string
	ro *v1alpha1.Rollout
	r  *smi.Router
}

func newFixture(t *testing.T) conformance.Fixture {
	ns := clustertest.Namespace(t, admin)
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.RolloutSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a"}}}},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				StableService: "web-stable", CanaryService: "web-canary",
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{RootService: "web"}},
			}},
		},
	}
	if err := admin.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	r, err := smi.New(router, router, ro, "")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ns: ns, ro: ro, r: r}
}

func (f *fixture) split(t *testing.T) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("split.smi-spec.io/v1alpha1")
	obj.SetKind("TrafficSplit")
	err := admin.Get(t.Context(), client.ObjectKey{Namespace: f.ns, Name: "web"}, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func (f *fixture) Router() trafficrouting.Router { return f.r }

// weights are the split's backends' weights, by Service; they add up to
// 100.
func (f *fixture) weights(t *testing.T) map[string]int32 {
	obj := f.split(t)
	if obj == nil {
		return nil
	}
	backends, _, _ := unstructured.NestedSlice(obj.Object, "spec", "backends")
	weights, sum := map[string]int32{}, 0
	for _, b := range backends {
		m := b.(map[string]any)
		w, err := strconv.Atoi(fmt.Sprint(m["weight"]))
		if err != nil {
			t.Fatalf("weight %v", m["weight"])
		}
		weights[m["service"].(string)] = int32(w)
		sum += w
	}
	if svc, _, _ := unstructured.NestedString(obj.Object, "spec", "service"); svc != "web" || sum != 100 {
		t.Errorf("split %v", obj.Object["spec"])
	}
	return weights
}

func (f *fixture) Weight(t *testing.T) int32 { return f.weights(t)["web-canary"] }

func (f *fixture) Destinations(t *testing.T) map[string]int32 {
	out := f.weights(t)
	delete(out, "web-canary")
	delete(out, "web-stable")
	return out
}

func (f *fixture) Routes(*testing.T) ([]string, []string) { return nil, nil }

// Foreign: the router touches no object but its own TrafficSplit.
func (f *fixture) Foreign(*testing.T) string { return "" }

func (f *fixture) Writes() int { return writes.Count(f.ns) }

func (f *fixture) Remove(t *testing.T) {
	if obj := f.split(t); obj != nil {
		if err := admin.Delete(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSMIConforms(t *testing.T) {
	conformance.Suite{Name: "smi", New: newFixture, NoHeaderRoutes: true, NoMirrorRoutes: true, CreatesItsObjects: true}.Run(t)
}

func TestTheSplitIsOwnedByTheRollout(t *testing.T) {
	f := newFixture(t).(*fixture)
	if err := f.r.SetWeight(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(f.split(t)); ref == nil || ref.UID != f.ro.UID {
		t.Errorf("owner %v", ref)
	}
}
