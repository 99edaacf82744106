package analysisrun_test

import (
	"context"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/web"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/controller/analysisrun"
)

// laggingCache reads from the API server, except that while a copy is
// held it serves that copy of the run: the manager's cache lagging behind
// the reconciler's own last write.
type laggingCache struct {
	client.Client
	mu   sync.Mutex
	held *v1alpha1.AnalysisRun
}

func (c *laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.mu.Lock()
	held := c.held
	c.mu.Unlock()
	if run, ok := obj.(*v1alpha1.AnalysisRun); ok && held != nil && client.ObjectKeyFromObject(held) == key {
		held.DeepCopyInto(run)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c *laggingCache) hold(run *v1alpha1.AnalysisRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = run
}

// A run judged Failed, reconciled again from a cache that has not seen
// that verdict yet, must not measure again and overwrite the verdict (the
// rollout may already have aborted on it).
func TestAStaleCacheNeverChangesAVerdict(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `{"ok": false}`)
	m := webMetric("ok", ep.URL)
	m.Count = ptr.To(intstr.FromInt32(1))
	m.SuccessCondition = "result.ok == true"
	instance := "stale-" + e.ns
	run := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: "verdict", Namespace: e.ns, Labels: map[string]string{v1alpha1.InstanceIDLabelKey: instance}},
		Spec:       v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}},
	}
	if err := cl.Create(e.ctx, run); err != nil {
		t.Fatal(err)
	}
	// The "cache" reads with the administrator's rights: the controller's
	// own reads go through its informers, which this test stands in for.
	direct, err := client.New(shared.Config(), client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	cache := &laggingCache{Client: direct}
	mgr, err := app.NewManager(clustertest.AsController(shared.Config()), app.Options{InstanceID: instance, SkipControllerNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	r := &analysisrun.Reconciler{Client: cache, APIReader: direct, Clock: clock.RealClock{}, InstanceID: instance,
		Providers: analysis.NewRegistry(web.Provider{}), SkipNameValidation: true}
	if err := r.SetupWithManager(mgr); err != nil { // not started: Reconcile is called by hand
		t.Fatal(err)
	}
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(run)}
	before := e.get("verdict")
	if _, err := r.Reconcile(e.ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := e.get("verdict"); got.Status.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Fatalf("after the first reconcile: %s (%s), want Failed", got.Status.Phase, got.Status.Message)
	}

	ep.answer(200, `{"ok": true}`)
	cache.hold(before)
	if _, err := r.Reconcile(e.ctx, req); err != nil {
		t.Fatal(err)
	}
	cache.hold(nil)
	got := e.get("verdict")
	if got.Status.Phase != v1alpha1.AnalysisPhaseFailed || got.Status.MetricResults[0].Count != 1 {
		t.Errorf("after a reconcile from the stale copy: %s with %d measurements (%s); want Failed, 1", got.Status.Phase, got.Status.MetricResults[0].Count, got.Status.Message)
	}
	if n := ep.called(); n != 1 {
		t.Errorf("the provider was asked %d times for one measurement", n)
	}

	// A second controller, which never wrote this run (two leaders for a
	// moment), reads the same stale copy: it may measure, but its write is
	// refused (the run changed since the copy) and the verdict stays.
	other := &analysisrun.Reconciler{Client: cache, APIReader: direct, Clock: clock.RealClock{}, InstanceID: instance,
		Providers: analysis.NewRegistry(web.Provider{}), SkipNameValidation: true}
	if err := other.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	cache.hold(before)
	res, err := other.Reconcile(e.ctx, req)
	cache.hold(nil)
	if err != nil || !res.Requeue {
		t.Errorf("the second controller's reconcile: %+v, %v; want a requeue after its write was refused", res, err)
	}
	if got := e.get("verdict"); got.Status.Phase != v1alpha1.AnalysisPhaseFailed || got.Status.MetricResults[0].Count != 1 {
		t.Errorf("after the second controller: %s with %d measurements; want Failed, 1", got.Status.Phase, got.Status.MetricResults[0].Count)
	}
}
