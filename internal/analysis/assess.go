package analysis

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Limits are a metric's counts and limits, resolved to numbers.
type Limits struct {
	// Count is how many measurements to take; nil is unbounded (an
	// interval and no count).
	Count *int32
	// FailureLimit: more failed measurements fail the metric; -1 disables.
	FailureLimit int32
	// InconclusiveLimit: more inconclusive ones make it Inconclusive.
	InconclusiveLimit int32
	// ConsecutiveErrorLimit: more errors in a row make it Error.
	ConsecutiveErrorLimit int32
	// ConsecutiveSuccessLimit: this many successes in a row make it
	// Successful; 0 disables.
	ConsecutiveSuccessLimit int32
}

// Defaults of a metric's limits.
const (
	DefaultConsecutiveErrorLimit = 4
)

// ResolveLimits reads a metric's limits. Each may be a number or a string
// holding one (after argument substitution); anything else is an error
// naming the field.
func ResolveLimits(m v1alpha1.Metric) (Limits, error) {
	var l Limits
	var err error
	num := func(field string, v *intstr.IntOrString, def int32) int32 {
		if v == nil || err != nil {
			return def
		}
		if v.Type == intstr.Int {
			return v.IntVal
		}
		n, perr := strconv.ParseInt(v.StrVal, 10, 32)
		if perr != nil {
			err = fmt.Errorf("metric %s: %s %q is not a number", m.Name, field, v.StrVal)
			return def
		}
		return int32(n)
	}
	l.FailureLimit = num("failureLimit", m.FailureLimit, 0)
	l.InconclusiveLimit = num("inconclusiveLimit", m.InconclusiveLimit, 0)
	l.ConsecutiveErrorLimit = num("consecutiveErrorLimit", m.ConsecutiveErrorLimit, DefaultConsecutiveErrorLimit)
	l.ConsecutiveSuccessLimit = num("consecutiveSuccessLimit", m.ConsecutiveSuccessLimit, 0)
	switch {
	case m.Count != nil:
		c := num("count", m.Count, 1)
		l.Count = &c
	case m.Interval == "":
		one := int32(1)
		l.Count = &one
	}
	return l, err
}

// Judge decides a measurement from its result: Failed when the failure
// condition holds; Successful when the success condition holds; with only
// one of them, the other is its negation; with neither, Successful; with
// both and neither holding, Inconclusive. A condition that cannot be
// evaluated makes the measurement Error.
func Judge(result any, success, failure *Condition) (v1alpha1.AnalysisPhase, error) {
	var ok, bad bool
	var err error
	if success != nil {
		if ok, err = success.Eval(result); err != nil {
			return v1alpha1.AnalysisPhaseError, err
		}
	}
	if failure != nil {
		if bad, err = failure.Eval(result); err != nil {
			return v1alpha1.AnalysisPhaseError, err
		}
	}
	switch {
	case success == nil && failure == nil:
		return v1alpha1.AnalysisPhaseSuccessful, nil
	case failure == nil:
		bad = !ok
	case success == nil:
		ok = !bad
	}
	switch {
	case bad:
		return v1alpha1.AnalysisPhaseFailed, nil
	case ok:
		return v1alpha1.AnalysisPhaseSuccessful, nil
	}
	return v1alpha1.AnalysisPhaseInconclusive, nil
}

// Record counts a completed measurement in its metric's result. An Error
// does not count towards Count: the metric measures again, until
// consecutiveErrorLimit says otherwise.
func Record(r *v1alpha1.MetricResult, phase v1alpha1.AnalysisPhase) {
	switch phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		r.Count++
		r.Successful++
		r.ConsecutiveError = 0
		r.ConsecutiveSuccess++
	case v1alpha1.AnalysisPhaseFailed:
		r.Count++
		r.Failed++
		r.ConsecutiveError = 0
		r.ConsecutiveSuccess = 0
	case v1alpha1.AnalysisPhaseInconclusive:
		r.Count++
		r.Inconclusive++
		r.ConsecutiveError = 0
		r.ConsecutiveSuccess = 0
	case v1alpha1.AnalysisPhaseError:
		r.Error++
		r.ConsecutiveError++
		r.ConsecutiveSuccess = 0
	}
}

// MetricPhase is a metric's phase from its measurements, in Argo Rollouts'
// order: no measurement yet is Pending (Successful when the run is
// terminating); a measurement under way is Running; then the limits, a later
// one overriding an earlier one (Failed, Inconclusive, Error); then
// consecutiveSuccessLimit reached is Successful; then count reached is
// Successful, unless consecutiveSuccessLimit was set and missed (then
// Inconclusive when failureLimit applies, else Failed); an unbounded metric
// is Running, or Successful once the run terminates.
func MetricPhase(l Limits, r v1alpha1.MetricResult, terminating bool) v1alpha1.AnalysisPhase {
	if len(r.Measurements) == 0 {
		if terminating {
			return v1alpha1.AnalysisPhaseSuccessful
		}
		return v1alpha1.AnalysisPhasePending
	}
	if last := r.Measurements[len(r.Measurements)-1]; !last.Phase.Completed() {
		return v1alpha1.AnalysisPhaseRunning
	}
	var phase v1alpha1.AnalysisPhase
	if l.FailureLimit >= 0 && r.Failed > l.FailureLimit {
		phase = v1alpha1.AnalysisPhaseFailed
	}
	if l.InconclusiveLimit >= 0 && r.Inconclusive > l.InconclusiveLimit {
		phase = v1alpha1.AnalysisPhaseInconclusive
	}
	if l.ConsecutiveErrorLimit >= 0 && r.ConsecutiveError > l.ConsecutiveErrorLimit {
		phase = v1alpha1.AnalysisPhaseError
	}
	if phase != "" {
		return phase
	}
	if l.ConsecutiveSuccessLimit > 0 && r.ConsecutiveSuccess >= l.ConsecutiveSuccessLimit {
		return v1alpha1.AnalysisPhaseSuccessful
	}
	if l.Count != nil && r.Count >= *l.Count {
		if l.ConsecutiveSuccessLimit > 0 {
			if l.FailureLimit >= 0 {
				return v1alpha1.AnalysisPhaseInconclusive
			}
			return v1alpha1.AnalysisPhaseFailed
		}
		return v1alpha1.AnalysisPhaseSuccessful
	}
	if terminating {
		return v1alpha1.AnalysisPhaseSuccessful
	}
	return v1alpha1.AnalysisPhaseRunning
}

// severity orders phases from best to worst, as a run aggregates them.
var severity = map[v1alpha1.AnalysisPhase]int{
	v1alpha1.AnalysisPhaseSuccessful:   0,
	v1alpha1.AnalysisPhaseRunning:      1,
	v1alpha1.AnalysisPhasePending:      2,
	v1alpha1.AnalysisPhaseInconclusive: 3,
	v1alpha1.AnalysisPhaseError:        4,
	v1alpha1.AnalysisPhaseFailed:       5,
}

// Worse reports whether phase a is worse than b.
func Worse(a, b v1alpha1.AnalysisPhase) bool { return severity[a] > severity[b] }

// RunPhase aggregates the phases of a run's metrics (dry-run ones left
// out): the worst completed phase once every metric has completed; a
// metric that ends Failed, Error or Inconclusive makes the run terminating
// (the other metrics stop) and decides it; otherwise Running while any
// metric is.
func RunPhase(phases []v1alpha1.AnalysisPhase) (phase v1alpha1.AnalysisPhase, terminating bool) {
	worst := v1alpha1.AnalysisPhaseSuccessful
	done := true
	for _, p := range phases {
		if !p.Completed() {
			done = false
			continue
		}
		if Worse(p, worst) {
			worst = p
		}
	}
	terminating = worst != v1alpha1.AnalysisPhaseSuccessful
	if done || terminating {
		return worst, terminating
	}
	return v1alpha1.AnalysisPhaseRunning, false
}
