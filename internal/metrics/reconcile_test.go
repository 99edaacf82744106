package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/metrics"
)

// Reconciles are timed and their errors counted per object; an object its
// reconciler finds gone keeps its series for GoneAfter (so the last values
// are scraped), then they go, with its events.
func TestReconcileMetrics(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_700_000_000, 0))
	m := metrics.New(metrics.Options{Clock: clk, Version: "v1"})
	exists, fail := true, false
	r := m.Reconciler(metrics.Rollout, reconcile.Func(func(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
		if !exists {
			metrics.Gone(ctx)
			return reconcile.Result{}, nil
		}
		clk.Step(200 * time.Millisecond)
		if fail {
			return reconcile.Result{}, errors.New("conflict")
		}
		return reconcile.Result{}, nil
	}))
	rec := m.Recorder(events.NewFakeRecorder(10))
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "shop", Name: "cart"}}
	ctx := t.Context()
	r.Reconcile(ctx, req)
	fail = true
	r.Reconcile(ctx, req)
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = "shop", "cart"
	rec.Eventf(ro, nil, "Warning", v1alpha1.ReasonRolloutAborted, "Abort", "aborted")
	rec.Eventf(ro, nil, "Normal", v1alpha1.ReasonRolloutPaused, "Pause", "paused")
	rec.Eventf(ro, nil, "Normal", v1alpha1.ReasonRolloutPaused, "Pause", "paused")
	rec.Eventf(&v1alpha1.AnalysisRun{}, nil, "Normal", "AnalysisRunRunning", "", "not a rollout")

	const want = `
# HELP rollout_reconcile How long one reconcile of the object took, in seconds.
# TYPE rollout_reconcile histogram
rollout_reconcile_bucket{name="cart",namespace="shop",le="0.01"} 0
rollout_reconcile_bucket{name="cart",namespace="shop",le="0.15"} 0
rollout_reconcile_bucket{name="cart",namespace="shop",le="0.25"} 2
rollout_reconcile_bucket{name="cart",namespace="shop",le="0.5"} 2
rollout_reconcile_bucket{name="cart",namespace="shop",le="1"} 2
rollout_reconcile_bucket{name="cart",namespace="shop",le="+Inf"} 2
rollout_reconcile_sum{name="cart",namespace="shop"} 0.4
rollout_reconcile_count{name="cart",namespace="shop"} 2
# HELP rollout_reconcile_error Reconciles of the object that ended in an error.
# TYPE rollout_reconcile_error counter
rollout_reconcile_error{name="cart",namespace="shop"} 1
# HELP rollout_events_total Kubernetes events recorded on rollouts, by type and reason.
# TYPE rollout_events_total counter
rollout_events_total{name="cart",namespace="shop",reason="RolloutAborted",type="Warning"} 1
rollout_events_total{name="cart",namespace="shop",reason="RolloutPaused",type="Normal"} 2
`
	names := []string{"rollout_reconcile", "rollout_reconcile_error", "rollout_events_total"}
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}

	// Deleted: the reconcile that finds it gone is not observed, and the
	// series stay until GoneAfter has passed.
	exists = false
	r.Reconcile(ctx, req)
	clk.Step(metrics.GoneAfter - time.Second)
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), names...); err != nil {
		t.Fatalf("before GoneAfter: %v", err)
	}
	clk.Step(time.Second)
	if n := testutil.CollectAndCount(m, names...); n != 0 {
		t.Fatalf("%d series of the deleted rollout are left after GoneAfter", n)
	}
}
