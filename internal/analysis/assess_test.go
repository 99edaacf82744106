package analysis

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

const (
	ok   = v1alpha1.AnalysisPhaseSuccessful
	bad  = v1alpha1.AnalysisPhaseFailed
	inc  = v1alpha1.AnalysisPhaseInconclusive
	errp = v1alpha1.AnalysisPhaseError
	run  = v1alpha1.AnalysisPhaseRunning
	pend = v1alpha1.AnalysisPhasePending
)

func TestResolveLimits(t *testing.T) {
	l, err := ResolveLimits(v1alpha1.Metric{Name: "m"})
	if err != nil || l.Count == nil || *l.Count != 1 || l.FailureLimit != 0 || l.ConsecutiveErrorLimit != 4 {
		t.Errorf("defaults: %+v %v", l, err)
	}
	l, _ = ResolveLimits(v1alpha1.Metric{Name: "m", Interval: "1m"})
	if l.Count != nil {
		t.Errorf("an interval without count is unbounded: %+v", l)
	}
	l, err = ResolveLimits(v1alpha1.Metric{Name: "m", Count: ptr.To(intstr.FromString("5")), FailureLimit: ptr.To(intstr.FromInt32(-1))})
	if err != nil || *l.Count != 5 || l.FailureLimit != -1 {
		t.Errorf("resolved: %+v %v", l, err)
	}
	if _, err := ResolveLimits(v1alpha1.Metric{Name: "m", Count: ptr.To(intstr.FromString("{{args.n}}"))}); err == nil {
		t.Error("an unresolved count was accepted")
	}
}

func TestJudge(t *testing.T) {
	above, _ := Compile("result > 5")
	below, _ := Compile("result < 2")
	broken, _ := Compile("result[0] > 1")
	for _, c := range []struct {
		name             string
		result           any
		success, failure *Condition
		want             v1alpha1.AnalysisPhase
	}{
		{"no conditions", 1.0, nil, nil, ok},
		{"success holds", 6.0, above, nil, ok},
		{"success does not hold: failed", 4.0, above, nil, bad},
		{"failure holds", 1.0, nil, below, bad},
		{"failure does not hold: successful", 3.0, nil, below, ok},
		{"both, neither holds: inconclusive", 3.0, above, below, inc},
		{"both, failure wins", 1.0, below, below, bad},
		{"a condition that cannot run: error", 1.0, broken, nil, errp},
	} {
		if got, _ := Judge(c.result, c.success, c.failure); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func measured(phases ...v1alpha1.AnalysisPhase) v1alpha1.MetricResult {
	var r v1alpha1.MetricResult
	for _, p := range phases {
		r.Measurements = append(r.Measurements, v1alpha1.Measurement{Phase: p})
		Record(&r, p)
	}
	return r
}

func TestMetricPhase(t *testing.T) {
	three := ptr.To[int32](3)
	for _, c := range []struct {
		name        string
		l           Limits
		r           v1alpha1.MetricResult
		terminating bool
		want        v1alpha1.AnalysisPhase
	}{
		{"nothing yet", Limits{Count: three}, measured(), false, pend},
		{"nothing yet, terminating", Limits{Count: three}, measured(), true, ok},
		{"a measurement under way", Limits{Count: three}, measured(ok, run), false, run},
		{"count reached", Limits{Count: three, ConsecutiveErrorLimit: 4}, measured(ok, ok, ok), false, ok},
		{"one failure over a limit of 0", Limits{Count: three, ConsecutiveErrorLimit: 4}, measured(ok, bad), false, bad},
		{"failures within the limit", Limits{Count: three, FailureLimit: 1, ConsecutiveErrorLimit: 4}, measured(bad, ok, ok), false, ok},
		{"failureLimit -1 never fails", Limits{Count: three, FailureLimit: -1, ConsecutiveErrorLimit: 4}, measured(bad, bad, bad), false, ok},
		{"inconclusive over its limit", Limits{Count: three, ConsecutiveErrorLimit: 4}, measured(inc), false, inc},
		{"errors: not counted, within the limit", Limits{Count: three, ConsecutiveErrorLimit: 2}, measured(errp, errp), false, run},
		{"errors over the limit", Limits{Count: three, ConsecutiveErrorLimit: 2}, measured(errp, errp, errp), false, errp},
		{"error overrides failure", Limits{Count: three, ConsecutiveErrorLimit: 0}, measured(bad, errp), false, errp},
		{"consecutive successes reached", Limits{Count: ptr.To[int32](10), FailureLimit: 5, ConsecutiveErrorLimit: 4, ConsecutiveSuccessLimit: 2}, measured(bad, ok, ok), false, ok},
		{"count reached without the consecutive successes, failureLimit on", Limits{Count: three, FailureLimit: 5, ConsecutiveErrorLimit: 4, ConsecutiveSuccessLimit: 3}, measured(ok, bad, ok), false, inc},
		{"count reached without the consecutive successes, failureLimit off", Limits{Count: three, FailureLimit: -1, ConsecutiveErrorLimit: 4, ConsecutiveSuccessLimit: 3}, measured(ok, bad, ok), false, bad},
		{"unbounded runs on", Limits{ConsecutiveErrorLimit: 4}, measured(ok, ok), false, run},
		{"unbounded, terminated", Limits{ConsecutiveErrorLimit: 4}, measured(ok, ok), true, ok},
	} {
		if got := MetricPhase(c.l, c.r, c.terminating); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestRunPhase(t *testing.T) {
	for _, c := range []struct {
		phases      []v1alpha1.AnalysisPhase
		want        v1alpha1.AnalysisPhase
		terminating bool
	}{
		{nil, ok, false},
		{[]v1alpha1.AnalysisPhase{ok, ok}, ok, false},
		{[]v1alpha1.AnalysisPhase{ok, run}, run, false},
		{[]v1alpha1.AnalysisPhase{pend, run}, run, false},
		{[]v1alpha1.AnalysisPhase{bad, run}, bad, true},
		{[]v1alpha1.AnalysisPhase{inc, errp}, errp, true},
		{[]v1alpha1.AnalysisPhase{errp, bad}, bad, true},
		{[]v1alpha1.AnalysisPhase{inc, ok}, inc, true},
	} {
		got, term := RunPhase(c.phases)
		if got != c.want || term != c.terminating {
			t.Errorf("RunPhase(%v) = %s, %v; want %s, %v", c.phases, got, term, c.want, c.terminating)
		}
	}
}

// BenchmarkMeasurementJudgement reports the allocations of judging one
// measurement: substitute the arguments, resolve the limits, evaluate the
// compiled condition, count it and assess the metric.
func BenchmarkMeasurementJudgement(b *testing.B) {
	m := v1alpha1.Metric{Name: "rate", Count: ptr.To(intstr.FromString("{{args.count}}")), SuccessCondition: "result[0] >= 0.95",
		Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: `sum(rate(x{hash="{{args.hash}}"}[1m]))`}}}
	args := map[string]string{"count": "100", "hash": "abc"}
	cond, err := Compile(m.SuccessCondition)
	if err != nil {
		b.Fatal(err)
	}
	result := []any{0.97}
	var r v1alpha1.MetricResult
	b.ReportAllocs()
	for b.Loop() {
		resolved, err := Substitute(m, args)
		if err != nil {
			b.Fatal(err)
		}
		l, _ := ResolveLimits(resolved)
		phase, _ := Judge(result, cond, nil)
		Record(&r, phase)
		_ = MetricPhase(l, r, false)
	}
}
