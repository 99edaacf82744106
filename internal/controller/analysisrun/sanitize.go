package analysisrun

import (
	"encoding/json"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
)

// Bounds of what a run stores, whatever a KPI source answers.
const (
	// MaxValue bounds a measurement's value as stored.
	MaxValue = 2048
	// MaxMessage bounds a message (run, metric, measurement).
	MaxMessage = 2048
	// MaxMetadata bounds a metadata value.
	MaxMetadata = 1024
	// MaxStatus bounds the status as a whole; past it, the oldest
	// measurements go first (each metric keeps its newest).
	MaxStatus = 1 << 20
)

// sanitize makes a status safe to store and show: every text a provider
// may have filled is redacted of secret values, then truncated to its
// bound; and the status as a whole is kept below MaxStatus, so that its
// write cannot fail for size and leave the run measuring again for ever.
func sanitize(st *v1alpha1.AnalysisRunStatus, secrets analysis.Redactor) {
	clean := func(s string, max int) string {
		if s == "" {
			return s
		}
		return analysis.Truncate(secrets.Redact(s), max)
	}
	st.Message = clean(st.Message, MaxMessage)
	for i := range st.MetricResults {
		res := &st.MetricResults[i]
		res.Message = clean(res.Message, MaxMessage)
		for k, v := range res.Metadata {
			res.Metadata[k] = clean(v, MaxMetadata)
		}
		for j := range res.Measurements {
			meas := &res.Measurements[j]
			meas.Value = clean(meas.Value, MaxValue)
			meas.Message = clean(meas.Message, MaxMessage)
			for k, v := range meas.Metadata {
				meas.Metadata[k] = clean(v, MaxMetadata)
			}
		}
	}
	if over := size(st) - MaxStatus; over > 0 {
		dropOldest(st, over)
	}
}

func size(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}

// dropOldest removes the oldest measurements, each time of the metric that
// keeps the most, until at least over bytes are gone; a metric's newest
// measurement always stays.
func dropOldest(st *v1alpha1.AnalysisRunStatus, over int) {
	for over > 0 {
		most := -1
		for i := range st.MetricResults {
			if n := len(st.MetricResults[i].Measurements); n > 1 && (most < 0 || n > len(st.MetricResults[most].Measurements)) {
				most = i
			}
		}
		if most < 0 {
			return
		}
		res := &st.MetricResults[most]
		over -= size(res.Measurements[0]) + 1
		res.Measurements = append([]v1alpha1.Measurement(nil), res.Measurements[1:]...)
	}
}
