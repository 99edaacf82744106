package analysisrun_test

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// reconciles is the number of AnalysisRun reconciles so far.
func reconciles(t testing.TB) float64 { return clustertest.Reconciles(t, "analysisrun") }

// finishedRuns creates n runs of one Web measurement and waits until all
// are Successful.
func finishedRuns(tb testing.TB, e *env, n int) {
	tb.Helper()
	ep := newEndpoint(tb, `1`)
	for i := range n {
		e.create(fmt.Sprintf("run-%d", i), v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{webMetric("m", ep.URL)}})
	}
	e.eventually(5*time.Minute, fmt.Sprintf("%d runs finished", n), func() (bool, string) {
		var list v1alpha1.AnalysisRunList
		if err := cl.List(e.ctx, &list, inNamespace(e.ns)); err != nil {
			return false, err.Error()
		}
		done := 0
		for _, r := range list.Items {
			if r.Status.Phase == v1alpha1.AnalysisPhaseSuccessful {
				done++
			}
		}
		return done == n, fmt.Sprintf("%d of %d", done, n)
	})
}

// settle waits until the reconcile count stops moving, and returns it.
func settle(tb testing.TB, e *env) float64 {
	tb.Helper()
	before := -1.0
	e.eventually(30*time.Second, "reconciles settle", func() (bool, string) {
		n := reconciles(tb)
		settled := n == before
		before = n
		return settled, fmt.Sprint(n)
	})
	return before
}

// Finished runs cost nothing at rest: no reconcile, no requeue, no write
// (Argo Rollouts' #2166: 6,600 finished runs cost 1.5 cores).
func TestFinishedRunsCostNothingAtRest(t *testing.T) {
	e := newEnv(t)
	finishedRuns(t, e, 50)
	before := settle(t, e)
	writesBefore := writes.Count(e.ns)
	// Two seconds is many requeue periods of a controller that polls.
	start := time.Now()
	e.eventually(5*time.Second, "two seconds at rest", func() (bool, string) { return time.Since(start) > 2*time.Second, "" })
	if got := reconciles(t) - before; got != 0 {
		t.Errorf("%v reconciles of finished runs at rest", got)
	}
	if got := writes.Count(e.ns) - writesBefore; got != 0 {
		t.Errorf("%d writes at rest", got)
	}
}

// BenchmarkFinishedRunsAtRest reports the reconciles per second that 1,000
// finished runs cost at rest (0: they are never requeued).
func BenchmarkFinishedRunsAtRest(b *testing.B) {
	e := newEnv(b)
	finishedRuns(b, e, 1000)
	before := settle(b, e)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		time.Sleep(100 * time.Millisecond)
	}
	b.ReportMetric((reconciles(b)-before)/time.Since(start).Seconds(), "reconciles/s")
}

// BenchmarkWritesPerMeasurement reports the controller's API writes per
// measurement of a run measuring every 10ms.
func BenchmarkWritesPerMeasurement(b *testing.B) {
	e := newEnv(b)
	ep := newEndpoint(b, `1`)
	m := webMetric("m", ep.URL)
	m.Count = ptr.To(intstr.FromInt(max(2, b.N)))
	m.Interval = "10ms"
	before := writes.Count(e.ns)
	b.ResetTimer()
	e.create("bench", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}})
	e.waitPhase("bench", v1alpha1.AnalysisPhaseSuccessful)
	b.ReportMetric(float64(writes.Count(e.ns)-before)/float64(max(2, b.N)), "writes/measurement")
}
