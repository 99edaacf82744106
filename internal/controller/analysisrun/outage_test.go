package analysisrun_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/prometheustest"
)

// A real Prometheus stopped for 30 seconds in the middle of a canary's
// analysis, then started again: its errors are measured 10 seconds apart,
// within consecutiveErrorLimit (4), so the release goes on and completes
// instead of aborting.
func TestPrometheusDownForThirtySecondsDoesNotAbortTheRelease(t *testing.T) {
	e := newEnv(t)
	prom, err := prometheustest.Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prom.Stop)
	e.template("up", v1alpha1.Metric{Name: "up", Interval: "5s", Count: ptr.To(intstr.FromInt32(8)), SuccessCondition: "result[0] == 1",
		Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Address: prom.URL, Query: "vector(1)"}}})
	e.createRollout(rollout("api", v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
		{SetWeight: ptr.To[int32](50)},
		{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "up"}}}},
	}}}))
	e.rolloutPhase("api", v1alpha1.RolloutPhaseHealthy)
	e.setImage("api", "example/api:2")
	measured := func(want func(v1alpha1.MetricResult) bool, what string) {
		e.eventually(2*time.Minute, what, func() (bool, string) {
			var runs v1alpha1.AnalysisRunList
			if err := cl.List(e.ctx, &runs, inNamespace(e.ns)); err != nil {
				return false, err.Error()
			}
			for _, r := range runs.Items {
				if len(r.Status.MetricResults) == 1 && want(r.Status.MetricResults[0]) {
					return true, ""
				}
			}
			return false, fmt.Sprint(len(runs.Items), " runs")
		})
	}
	measured(func(r v1alpha1.MetricResult) bool { return r.Successful >= 1 }, "a first good measurement")
	prom.Stop()
	down := time.Now()
	measured(func(r v1alpha1.MetricResult) bool { return r.ConsecutiveError >= 2 }, "errors while Prometheus is down")
	// The outage lasts 30 seconds: that is the scenario, not a wait for
	// something to happen.
	<-time.After(time.Until(down.Add(30 * time.Second)))
	if err := prom.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	ro := e.rolloutPhase("api", v1alpha1.RolloutPhaseHealthy)
	if ro.Spec.Template.Spec.Containers[0].Image != "example/api:2" || ro.Status.StableRS != ro.Status.CurrentPodHash || ro.Status.Abort {
		t.Errorf("the release did not complete: stable %s, current %s, abort %v: %s", ro.Status.StableRS, ro.Status.CurrentPodHash, ro.Status.Abort, ro.Status.Message)
	}
	measured(func(r v1alpha1.MetricResult) bool {
		return r.Error >= 2 && r.Phase == v1alpha1.AnalysisPhaseSuccessful
	}, "the run Successful with the outage's errors in it")
}
