package rollout

import (
	"context"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// syncBlueGreen carries a blue/green release one step: the preview Service
// follows the newest ReplicaSet, the active Service the stable one until
// promotion.
func (s *syncer) syncBlueGreen(ctx context.Context) error {
	bg := s.ro.Spec.Strategy.BlueGreen
	active, err := s.service(ctx, "spec.strategy.blueGreen.activeService", bg.ActiveService)
	if err != nil || active == nil {
		return err
	}
	preview := active
	if bg.PreviewService != "" {
		if preview, err = s.service(ctx, "spec.strategy.blueGreen.previewService", bg.PreviewService); err != nil || preview == nil {
			return err
		}
	}
	s.served = active
	defer func() {
		s.status.BlueGreen.ActiveSelector = selectorHash(active)
		if bg.PreviewService != "" {
			s.status.BlueGreen.PreviewSelector = selectorHash(preview)
		}
	}()
	replicas := s.ro.Spec.GetReplicas()

	// A stable ReplicaSet the status lost (or never recorded) is the one the
	// active Service already serves.
	if s.stableRS == nil {
		if rs := replicaset.FindByHash(s.rss, selectorHash(active)); rs != nil {
			s.stableRS = rs
			s.status.StableRS = replicaset.Hash(rs)
		}
	}
	// So is one a promotion switched it to, when the controller was killed
	// before the status recorded it and the template changed since.
	if rs := s.promotedUnrecorded(active); rs != nil {
		s.stableRS = rs
		s.status.StableRS = replicaset.Hash(rs)
	}

	switch {
	case s.stableRS == nil:
		// First deploy: nothing to protect, straight to full size.
		if err := s.scale(ctx, s.newRS, replicas); err != nil {
			return err
		}
		if preview != active {
			if err := s.switchService(ctx, preview, s.hash); err != nil {
				return err
			}
		}
		if !replicaset.Available(s.newRS, replicas) {
			return nil
		}
		return s.promote(ctx, active, v1alpha1.CompletionPromoted)

	case s.newRS.UID == s.stableRS.UID:
		// At rest, or rolled back to the stable template.
		s.finishUpdate(v1alpha1.CompletionRolledBack)
		s.resetUpdateState()
		if err := s.clearScaleDownDeadline(ctx, s.stableRS); err != nil {
			return err
		}
		if err := s.scale(ctx, s.stableRS, replicas); err != nil {
			return err
		}
		for _, svc := range []*corev1.Service{active, preview} {
			if err := s.switchService(ctx, svc, s.hash); err != nil {
				return err
			}
		}
		if err := s.scaleDownOld(ctx, seconds(bg.GetScaleDownDelaySeconds()), s.stableRS); err != nil {
			return err
		}
		return s.cleanupHistory(ctx)
	}

	// An update is in progress. The stable version keeps serving at full
	// size, and receives the active traffic unless the new version is
	// already switched in for its post-promotion analysis.
	if err := s.scale(ctx, s.stableRS, replicas); err != nil {
		return err
	}
	// Only a promotion (or a post-promotion analysis) points the active
	// Service at the new ReplicaSet, and it does so before the status that
	// records it is written: a controller killed in between finds the
	// switch made and goes on from there, never back.
	if !s.status.Abort && selectorHash(active) == s.hash {
		s.status.BlueGreen.ScaleUpPreviewCheckPoint = true
	}
	if s.status.Abort || selectorHash(active) != s.hash || !s.status.BlueGreen.ScaleUpPreviewCheckPoint {
		if err := s.switchService(ctx, active, replicaset.Hash(s.stableRS)); err != nil {
			return err
		}
	}
	if s.status.Abort {
		return s.abortBlueGreen(ctx, bg)
	}
	if s.status.AbortedAt != nil {
		s.status.AbortedAt = nil
		if err := s.deleteRuns(ctx); err != nil {
			return err
		}
		s.restartUpdate()
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutRetry, "Retrying the update to %s", replicaset.Describe(s.newRS))
	}
	// An intermediate version (replaced before it was promoted) serves no
	// active traffic: it goes at once.
	if err := s.scaleDownOld(ctx, 0, s.stableRS, s.newRS); err != nil {
		return err
	}
	if preview != active {
		if err := s.switchService(ctx, preview, s.hash); err != nil {
			return err
		}
	}
	if s.ro.Spec.Paused {
		return nil
	}
	if s.fastRollback(replicas) {
		// Back to a version that still runs at full size inside its
		// scale-down delay: switch at once, no pause.
		if err := s.clearScaleDownDeadline(ctx, s.newRS); err != nil {
			return err
		}
		return s.promote(ctx, active, v1alpha1.CompletionFastRolledBack)
	}
	previewReplicas := replicas
	if bg.PreviewReplicaCount != nil && !s.status.BlueGreen.ScaleUpPreviewCheckPoint {
		previewReplicas = min(*bg.PreviewReplicaCount, replicas)
	}
	if err := s.scale(ctx, s.newRS, previewReplicas); err != nil {
		return err
	}
	if !replicaset.Available(s.newRS, previewReplicas) {
		return nil
	}
	analysed := true
	if pre := bg.PrePromotionAnalysis; pre != nil && !s.status.PromoteFull {
		run, err := s.analysis(ctx, v1alpha1.RolloutTypePrePromotionLabel, "pre", pre)
		if err != nil || run == nil {
			return err
		}
		s.status.BlueGreen.PrePromotionAnalysisRunStatus = runStatus(run)
		analysed = s.verdict(ctx, run, v1alpha1.RolloutTypePrePromotionLabel)
		if s.status.Abort {
			return s.abortBlueGreen(ctx, bg)
		}
	}
	if waiting := s.blueGreenPause(bg); waiting || !analysed {
		return nil
	}
	s.status.BlueGreen.ScaleUpPreviewCheckPoint = true
	if err := s.scale(ctx, s.newRS, replicas); err != nil {
		return err
	}
	if !replicaset.Available(s.newRS, replicas) {
		return nil
	}
	if post := bg.PostPromotionAnalysis; post != nil && !s.status.PromoteFull {
		// The new version takes the active traffic while it is analysed; it
		// becomes stable only if the analysis succeeds.
		if err := s.switchService(ctx, active, s.hash); err != nil {
			return err
		}
		// Analysed only once the load balancer sends it the traffic.
		if !s.targetsRegistered(ctx) {
			return nil
		}
		run, err := s.analysis(ctx, v1alpha1.RolloutTypePostPromotionLabel, "post", post)
		if err != nil || run == nil {
			return err
		}
		s.status.BlueGreen.PostPromotionAnalysisRunStatus = runStatus(run)
		if !s.verdict(ctx, run, v1alpha1.RolloutTypePostPromotionLabel) {
			if s.status.Abort {
				if err := s.switchService(ctx, active, replicaset.Hash(s.stableRS)); err != nil {
					return err
				}
				return s.abortBlueGreen(ctx, bg)
			}
			return nil
		}
	}
	if s.status.PromoteFull {
		return s.promote(ctx, active, v1alpha1.CompletionFastPromoted)
	}
	return s.promote(ctx, active, v1alpha1.CompletionPromoted)
}

// promotedUnrecorded is the ReplicaSet, neither the recorded stable one
// nor the newest, that the active Service selects, when only a promotion
// can have switched it there: without post-promotion analysis (which
// switches the active Service before the version is stable, and whose
// interrupted run keeps the recorded stable version), and not aborted.
// Nil when there is none.
func (s *syncer) promotedUnrecorded(active *corev1.Service) *appsv1.ReplicaSet {
	if s.ro.Spec.Strategy.BlueGreen.PostPromotionAnalysis != nil || s.stableRS == nil || s.status.Abort {
		return nil
	}
	rs := replicaset.FindByHash(s.rss, selectorHash(active))
	if rs == nil || rs.UID == s.stableRS.UID || rs.UID == s.newRS.UID {
		return nil
	}
	return rs
}

// fastRollback reports whether the new ReplicaSet is an older version still
// waiting out its scale-down delay at full size.
func (s *syncer) fastRollback(replicas int32) bool {
	deadline, ok := scaleDownDeadline(s.newRS)
	return ok && deadline.After(s.now) && replicaset.Available(s.newRS, replicas)
}

// blueGreenPause holds the release before the switch when auto-promotion
// is off or delayed. It reports whether the release must wait.
func (s *syncer) blueGreenPause(bg *v1alpha1.BlueGreenStrategy) bool {
	if s.status.PromoteFull || (bg.GetAutoPromotionEnabled() && bg.AutoPromotionSeconds == 0) {
		return false
	}
	cond := pauseCondition(s.status, v1alpha1.PauseReasonBlueGreenPause)
	switch {
	case cond == nil && !s.status.ControllerPause:
		// Not paused yet for this update: pause now.
		s.status.PauseConditions = append(s.status.PauseConditions, v1alpha1.PauseCondition{
			Reason: v1alpha1.PauseReasonBlueGreenPause, StartTime: metav1.NewTime(s.now),
		})
		s.status.ControllerPause = true
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutPaused, "Rollout is paused (%s) before switching %s", v1alpha1.PauseReasonBlueGreenPause, bg.ActiveService)
		if bg.AutoPromotionSeconds > 0 {
			s.after(seconds(bg.AutoPromotionSeconds))
		}
		return true
	case cond != nil:
		if bg.AutoPromotionSeconds > 0 {
			due := cond.StartTime.Add(seconds(bg.AutoPromotionSeconds))
			if wait := due.Sub(s.now); wait > 0 {
				s.after(wait)
				return true
			}
			s.removePause(v1alpha1.PauseReasonBlueGreenPause)
			s.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutResumed, "Rollout resumed after autoPromotionSeconds (%ds)", bg.AutoPromotionSeconds)
			return false
		}
		return true
	default:
		// Paused by the controller and the pause was cleared: promoted.
		return false
	}
}

// promote switches the active Service to the new ReplicaSet, which becomes
// stable, and starts the old ones' scale-down delay. how is the update's
// completion status.
func (s *syncer) promote(ctx context.Context, active *corev1.Service, how string) error {
	if err := s.switchService(ctx, active, s.hash); err != nil {
		return err
	}
	s.finishUpdate(how)
	previous := s.stableRS
	s.stableRS = s.newRS
	s.status.StableRS = s.hash
	s.resetUpdateState()
	if previous != nil {
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Rollout completed: %s is stable, replacing %s", replicaset.Describe(s.newRS), replicaset.Describe(previous))
	} else {
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Rollout completed: %s is stable", replicaset.Describe(s.newRS))
	}
	bg := s.ro.Spec.Strategy.BlueGreen
	return s.scaleDownOld(ctx, seconds(bg.GetScaleDownDelaySeconds()), s.newRS)
}

// abortBlueGreen keeps the active Service on the stable ReplicaSet and
// scales the new one down after abortScaleDownDelaySeconds (never, for 0).
func (s *syncer) abortBlueGreen(ctx context.Context, bg *v1alpha1.BlueGreenStrategy) error {
	if s.status.AbortedAt == nil {
		t := metav1.NewTime(s.now)
		s.status.AbortedAt = &t
		s.finishUpdate(v1alpha1.CompletionAborted)
		s.event(corev1.EventTypeWarning, v1alpha1.ReasonRolloutAborted, "Rollout aborted: %s keeps serving, %s will be scaled down", replicaset.Describe(s.stableRS), replicaset.Describe(s.newRS))
	}
	// A retry starts the update over: pause again, preview at its size.
	s.status.PauseConditions = nil
	s.status.ControllerPause = false
	s.status.BlueGreen.ScaleUpPreviewCheckPoint = false
	delay := bg.GetAbortScaleDownDelaySeconds()
	if delay == 0 {
		return nil
	}
	due := s.status.AbortedAt.Add(seconds(delay))
	if wait := due.Sub(s.now); wait > 0 {
		s.after(wait)
		return nil
	}
	return s.scale(ctx, s.newRS, 0)
}

// resetUpdateState forgets the per-update state once an update ends.
func (s *syncer) resetUpdateState() {
	s.status.PauseConditions = nil
	s.status.PausedOnRuns = nil
	s.status.ControllerPause = false
	s.status.PromoteFull = false
	s.status.Abort = false
	s.status.AbortedAt = nil
	s.status.BlueGreen.ScaleUpPreviewCheckPoint = false
	s.status.Canary.CurrentStepAnalysisRunStatus = nil
	s.status.Canary.CurrentBackgroundAnalysisRunStatus = nil
}

func (s *syncer) removePause(reason v1alpha1.PauseReason) {
	s.status.PauseConditions = slices.DeleteFunc(s.status.PauseConditions, func(c v1alpha1.PauseCondition) bool { return c.Reason == reason })
	if len(s.status.PauseConditions) == 0 {
		s.status.PauseConditions = nil
	}
}

func pauseCondition(st *v1alpha1.RolloutStatus, reason v1alpha1.PauseReason) *v1alpha1.PauseCondition {
	for i := range st.PauseConditions {
		if st.PauseConditions[i].Reason == reason {
			return &st.PauseConditions[i]
		}
	}
	return nil
}

func seconds(n int32) time.Duration { return time.Duration(n) * time.Second }
