package analysis

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func TestNext(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) *metav1.Time { t := metav1.NewTime(start.Add(time.Duration(s) * time.Second)); return &t }
	done := func(phase v1alpha1.AnalysisPhase, finished int) v1alpha1.Measurement {
		return v1alpha1.Measurement{Phase: phase, FinishedAt: at(finished)}
	}
	withCount := func(r v1alpha1.MetricResult, n int32) v1alpha1.MetricResult { r.Count = n; return r }
	for _, c := range []struct {
		name   string
		m      v1alpha1.Metric
		l      Limits
		r      v1alpha1.MetricResult
		due    bool
		atSecs int
	}{
		{"first, no delay", v1alpha1.Metric{}, Limits{Count: ptr.To[int32](1)}, v1alpha1.MetricResult{}, true, 0},
		{"first, after initialDelay", v1alpha1.Metric{InitialDelay: "30s"}, Limits{Count: ptr.To[int32](1)}, v1alpha1.MetricResult{}, true, 30},
		{"single measurement taken", v1alpha1.Metric{}, Limits{Count: ptr.To[int32](1)}, withCount(v1alpha1.MetricResult{Measurements: []v1alpha1.Measurement{done(ok, 5)}}, 1), false, 0},
		{"next after the interval", v1alpha1.Metric{Interval: "1m"}, Limits{Count: ptr.To[int32](3)}, withCount(v1alpha1.MetricResult{Measurements: []v1alpha1.Measurement{done(ok, 5)}}, 1), true, 65},
		{"count reached", v1alpha1.Metric{Interval: "1m"}, Limits{Count: ptr.To[int32](2)}, withCount(v1alpha1.MetricResult{Measurements: []v1alpha1.Measurement{done(ok, 5), done(ok, 65)}}, 2), false, 0},
		{"unbounded", v1alpha1.Metric{Interval: "10s"}, Limits{}, withCount(v1alpha1.MetricResult{Measurements: []v1alpha1.Measurement{done(bad, 20)}}, 9), true, 30},
		{"an error is measured again 10s later", v1alpha1.Metric{}, Limits{Count: ptr.To[int32](1)}, v1alpha1.MetricResult{Measurements: []v1alpha1.Measurement{done(errp, 7)}}, true, 17},
		{"an error is measured again 10s later, not after a long interval", v1alpha1.Metric{Interval: "5m"}, Limits{}, withCount(v1alpha1.MetricResult{Measurements: []v1alpha1.Measurement{done(errp, 7)}}, 3), true, 17},
		{"an error is measured again 10s later, not after a short interval", v1alpha1.Metric{Interval: "1s"}, Limits{}, withCount(v1alpha1.MetricResult{Measurements: []v1alpha1.Measurement{done(errp, 7)}}, 3), true, 17},
		{"one under way", v1alpha1.Metric{Interval: "10s"}, Limits{}, v1alpha1.MetricResult{Measurements: []v1alpha1.Measurement{{Phase: run}}}, false, 0},
	} {
		when, due := Next(c.m, c.l, c.r, start)
		if due != c.due || (due && !when.Equal(start.Add(time.Duration(c.atSecs)*time.Second))) {
			t.Errorf("%s: %v at %v; want %v at +%ds", c.name, due, when, c.due, c.atSecs)
		}
	}
}

func TestRetentionAndDryRun(t *testing.T) {
	spec := v1alpha1.AnalysisRunSpec{
		MeasurementRetention: []v1alpha1.MeasurementRetention{{MetricName: "latency", Limit: 3}},
		DryRun:               []v1alpha1.DryRun{{MetricName: "errors"}},
	}
	if Retention(spec, "latency") != 3 || Retention(spec, "other") != 10 {
		t.Error("retention")
	}
	if !DryRun(spec, "errors") || DryRun(spec, "latency") {
		t.Error("dry run")
	}
	if !DryRun(v1alpha1.AnalysisRunSpec{DryRun: []v1alpha1.DryRun{{MetricName: "*"}}}, "any") {
		t.Error("dry run wildcard")
	}
}
