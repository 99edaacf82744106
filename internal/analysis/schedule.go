package analysis

import (
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Next says when a metric's next measurement is due: after initialDelay
// from the run's start for the first, then interval after the last one
// finished. It reports false when no more are due: the count is reached, or
// there is no interval and one has been taken. After an Error the next
// measurement is taken ErrorRetryInterval later, whatever the interval, as
// Argo Rollouts does: a KPI source down for a moment does not burn
// through consecutiveErrorLimit at once.
func Next(m v1alpha1.Metric, l Limits, r v1alpha1.MetricResult, started time.Time) (time.Time, bool) {
	if l.Count != nil && r.Count >= *l.Count {
		return time.Time{}, false
	}
	if len(r.Measurements) == 0 {
		delay, _ := time.ParseDuration(string(m.InitialDelay))
		return started.Add(max(0, delay)), true
	}
	last := r.Measurements[len(r.Measurements)-1]
	if !last.Phase.Completed() {
		return time.Time{}, false // under way: resumed, not started
	}
	interval, _ := time.ParseDuration(string(m.Interval))
	if interval <= 0 && last.Phase != v1alpha1.AnalysisPhaseError {
		if l.Count == nil {
			return time.Time{}, false
		}
	}
	finished := started
	if last.FinishedAt != nil {
		finished = last.FinishedAt.Time
	}
	if last.Phase == v1alpha1.AnalysisPhaseError {
		return finished.Add(ErrorRetryInterval), true
	}
	return finished.Add(max(0, interval)), true
}

// ErrorRetryInterval is how long after an Error measurement the next one
// is taken (Argo Rollouts' DefaultErrorRetryInterval).
const ErrorRetryInterval = 10 * time.Second

// Retention is how many measurements a metric keeps: its
// measurementRetention entry (by name, or "*"), else 10.
func Retention(spec v1alpha1.AnalysisRunSpec, metric string) int {
	keep := DefaultMeasurementRetention
	for _, r := range spec.MeasurementRetention {
		if r.MetricName == metric || r.MetricName == "*" {
			keep = int(r.Limit)
		}
	}
	return max(1, keep)
}

// DefaultMeasurementRetention is how many measurements a metric keeps.
const DefaultMeasurementRetention = 10

// DryRun reports whether a metric is a dry run (by name, or "*"): measured
// and counted in dryRunSummary, never deciding the run.
func DryRun(spec v1alpha1.AnalysisRunSpec, metric string) bool {
	for _, d := range spec.DryRun {
		if d.MetricName == metric || d.MetricName == "*" {
			return true
		}
	}
	return false
}
