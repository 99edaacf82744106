package rollout

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// status.duration times the latest update: when it started, how long it was
// paused by hand (spec.paused), when and how it ended.

// startUpdate begins timing an update. One still running was superseded.
func (s *syncer) startUpdate() {
	s.finishUpdate(v1alpha1.CompletionSuperseded)
	s.status.Duration = &v1alpha1.RolloutDuration{RolloutStartedAt: s.nowTime()}
}

// restartUpdate times a retried update afresh.
func (s *syncer) restartUpdate() {
	s.status.Duration = &v1alpha1.RolloutDuration{RolloutStartedAt: s.nowTime()}
}

// finishUpdate records how the running update ended; it does nothing when
// none is running.
func (s *syncer) finishUpdate(how string) {
	d := s.status.Duration
	if d == nil || d.FinishedAt != nil {
		return
	}
	s.endManualPause()
	d.FinishedAt = s.nowTime()
	d.CompletionStatus = how
	if d.RolloutStartedAt != nil {
		updateDuration.WithLabelValues(how).Observe(d.FinishedAt.Sub(d.RolloutStartedAt.Time).Seconds())
	}
}

// trackManualPause adds the time spent with spec.paused set to the running
// update's total.
func (s *syncer) trackManualPause() {
	d := s.status.Duration
	if d == nil || d.FinishedAt != nil {
		return
	}
	if s.ro.Spec.Paused && d.ManualPauseStartedAt == nil {
		d.ManualPauseStartedAt = s.nowTime()
	}
	if !s.ro.Spec.Paused {
		s.endManualPause()
	}
}

func (s *syncer) endManualPause() {
	d := s.status.Duration
	if d.ManualPauseStartedAt == nil {
		return
	}
	d.TotalManualPauseDurationSeconds += int64(s.now.Sub(d.ManualPauseStartedAt.Time).Seconds())
	d.ManualPauseStartedAt = nil
}

func (s *syncer) nowTime() *metav1.Time {
	t := metav1.NewTime(s.now)
	return &t
}
