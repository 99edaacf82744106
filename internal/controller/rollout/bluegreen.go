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

// blueGreenRun is one reconcile of a blue/green rollout: the syncer's view
// plus its Services.
type blueGreenRun struct {
	*syncer
	bg              *v1alpha1.BlueGreenStrategy
	active, preview *corev1.Service
	replicas        int32
}

// syncBlueGreen carries a blue/green release one step: the preview Service
// follows the newest ReplicaSet, the active Service the stable one until
// promotion. It reads top to bottom: the Services, the stable version
// (from the status, or from what the active Service shows a promotion
// did), then the first deploy, the release at rest, or the update.
func (s *syncer) syncBlueGreen(ctx context.Context) error {
	b := &blueGreenRun{syncer: s, bg: s.ro.Spec.Strategy.BlueGreen, replicas: s.ro.Spec.GetReplicas()}
	if ok, err := b.services(ctx); err != nil || !ok {
		return err
	}
	defer b.recordSelectors()
	b.findStable()
	switch {
	case b.stableRS == nil:
		return b.firstDeploy(ctx)
	case b.newRS.UID == b.stableRS.UID:
		return b.atRest(ctx)
	}
	return b.update(ctx)
}

// services reads the active and preview Services (the active one stands
// for both without a preview); false when one is missing (reported).
func (b *blueGreenRun) services(ctx context.Context) (bool, error) {
	var err error
	if b.active, err = b.service(ctx, "spec.strategy.blueGreen.activeService", b.bg.ActiveService); err != nil || b.active == nil {
		return false, err
	}
	b.preview = b.active
	if b.bg.PreviewService != "" {
		if b.preview, err = b.service(ctx, "spec.strategy.blueGreen.previewService", b.bg.PreviewService); err != nil || b.preview == nil {
			return false, err
		}
	}
	b.served = b.active
	return true, nil
}

// recordSelectors shows the Services' selectors in the status, as they
// are after this reconcile's switches.
func (b *blueGreenRun) recordSelectors() {
	b.status.BlueGreen.ActiveSelector = selectorHash(b.active)
	if b.bg.PreviewService != "" {
		b.status.BlueGreen.PreviewSelector = selectorHash(b.preview)
	}
}

// findStable recovers a stable ReplicaSet the status lost (or never
// recorded): the one the active Service already serves; and one a
// promotion switched the active Service to when the controller was killed
// before the status recorded it and the template changed since.
func (b *blueGreenRun) findStable() {
	if b.stableRS == nil {
		if rs := replicaset.FindByHash(b.rss, selectorHash(b.active)); rs != nil {
			b.stableRS = rs
			b.status.StableRS = replicaset.Hash(rs)
		}
	}
	if rs := b.promotedUnrecorded(b.active); rs != nil {
		b.stableRS = rs
		b.status.StableRS = replicaset.Hash(rs)
	}
}

// firstDeploy has nothing to protect: straight to full size.
func (b *blueGreenRun) firstDeploy(ctx context.Context) error {
	if err := b.scale(ctx, b.newRS, b.replicas); err != nil {
		return err
	}
	if b.preview != b.active {
		if err := b.switchService(ctx, b.preview, b.hash); err != nil {
			return err
		}
	}
	if !replicaset.Available(b.newRS, b.replicas) {
		return nil
	}
	return b.promote(ctx, b.active, v1alpha1.CompletionPromoted)
}

// atRest keeps a finished release as it is, and finishes a rollback to the
// stable template.
func (b *blueGreenRun) atRest(ctx context.Context) error {
	b.finishUpdate(v1alpha1.CompletionRolledBack)
	b.resetUpdateState()
	if err := b.clearScaleDownDeadline(ctx, b.stableRS); err != nil {
		return err
	}
	if err := b.scale(ctx, b.stableRS, b.replicas); err != nil {
		return err
	}
	for _, svc := range []*corev1.Service{b.active, b.preview} {
		if err := b.switchService(ctx, svc, b.hash); err != nil {
			return err
		}
	}
	if err := b.scaleDownOld(ctx, seconds(b.bg.GetScaleDownDelaySeconds()), b.stableRS); err != nil {
		return err
	}
	return b.cleanupHistory(ctx)
}

// update carries an update in progress: the stable version keeps serving
// at full size while the new one is previewed, analysed, paused for, and
// switched in; an abort sends it back.
func (b *blueGreenRun) update(ctx context.Context) error {
	if err := b.holdStable(ctx); err != nil {
		return err
	}
	if b.status.Abort {
		return b.abortBlueGreen(ctx, b.bg)
	}
	if err := b.retried(ctx); err != nil {
		return err
	}
	if err := b.previewNew(ctx); err != nil || b.ro.Spec.Paused {
		return err
	}
	if b.fastRollback(b.replicas) {
		// Back to a version that still runs at full size inside its
		// scale-down delay: switch at once, no pause.
		if err := b.clearScaleDownDeadline(ctx, b.newRS); err != nil {
			return err
		}
		return b.promote(ctx, b.active, v1alpha1.CompletionFastRolledBack)
	}
	if ready, err := b.beforeSwitch(ctx); err != nil || !ready {
		return err
	}
	return b.switchOver(ctx)
}

// holdStable keeps the stable version at full size with the active traffic,
// unless the new version is already switched in: only a promotion (or a
// post-promotion analysis) points the active Service at the new ReplicaSet,
// before the status that records it is written, so a controller killed in
// between finds the switch made and goes on from there, never back.
func (b *blueGreenRun) holdStable(ctx context.Context) error {
	if err := b.scale(ctx, b.stableRS, b.replicas); err != nil {
		return err
	}
	if !b.status.Abort && selectorHash(b.active) == b.hash {
		b.status.BlueGreen.ScaleUpPreviewCheckPoint = true
	}
	if b.status.Abort || selectorHash(b.active) != b.hash || !b.status.BlueGreen.ScaleUpPreviewCheckPoint {
		return b.switchService(ctx, b.active, replicaset.Hash(b.stableRS))
	}
	return nil
}

// retried starts an aborted update over once the user retried it (the
// abort is cleared, the abort time is still recorded).
func (b *blueGreenRun) retried(ctx context.Context) error {
	if b.status.AbortedAt == nil {
		return nil
	}
	b.status.AbortedAt = nil
	if err := b.deleteRuns(ctx); err != nil {
		return err
	}
	b.restartUpdate()
	b.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutRetry, "Retrying the update to %s", replicaset.Describe(b.newRS))
	return nil
}

// previewNew removes intermediate versions (replaced before they were
// promoted, they serve no active traffic) and points the preview Service at
// the new one.
func (b *blueGreenRun) previewNew(ctx context.Context) error {
	if err := b.scaleDownOld(ctx, 0, b.stableRS, b.newRS); err != nil {
		return err
	}
	if b.preview != b.active {
		return b.switchService(ctx, b.preview, b.hash)
	}
	return nil
}

// beforeSwitch sizes the preview, runs the pre-promotion analysis and the
// pause; it reports whether the switch may go ahead.
func (b *blueGreenRun) beforeSwitch(ctx context.Context) (bool, error) {
	previewReplicas := b.replicas
	if b.bg.PreviewReplicaCount != nil && !b.status.BlueGreen.ScaleUpPreviewCheckPoint {
		previewReplicas = min(*b.bg.PreviewReplicaCount, b.replicas)
	}
	if err := b.scale(ctx, b.newRS, previewReplicas); err != nil {
		return false, err
	}
	if !replicaset.Available(b.newRS, previewReplicas) {
		return false, nil
	}
	analysed := true
	if pre := b.bg.PrePromotionAnalysis; pre != nil && !b.skipChecks() {
		run, err := b.analysis(ctx, v1alpha1.RolloutTypePrePromotionLabel, "pre", pre)
		if err != nil || run == nil {
			return false, err
		}
		b.status.BlueGreen.PrePromotionAnalysisRunStatus = runStatus(run)
		analysed = b.verdict(ctx, run, v1alpha1.RolloutTypePrePromotionLabel)
		if b.status.Abort {
			return false, b.abortBlueGreen(ctx, b.bg)
		}
	}
	if b.rollbackWithinWindow() {
		return analysed, nil
	}
	waiting := b.blueGreenPause(b.bg)
	return analysed && !waiting, nil
}

// switchOver scales the new version to full size and switches the active
// Service to it; with post-promotion analysis it becomes stable only if
// the analysis succeeds (a failure switches back and aborts).
func (b *blueGreenRun) switchOver(ctx context.Context) error {
	b.status.BlueGreen.ScaleUpPreviewCheckPoint = true
	if err := b.scale(ctx, b.newRS, b.replicas); err != nil {
		return err
	}
	if !replicaset.Available(b.newRS, b.replicas) {
		return nil
	}
	if post := b.bg.PostPromotionAnalysis; post != nil && !b.skipChecks() {
		if err := b.switchService(ctx, b.active, b.hash); err != nil {
			return err
		}
		// Analysed only once the load balancer sends it the traffic.
		if !b.targetsRegistered(ctx) {
			return nil
		}
		run, err := b.analysis(ctx, v1alpha1.RolloutTypePostPromotionLabel, "post", post)
		if err != nil || run == nil {
			return err
		}
		b.status.BlueGreen.PostPromotionAnalysisRunStatus = runStatus(run)
		if !b.verdict(ctx, run, v1alpha1.RolloutTypePostPromotionLabel) {
			if !b.status.Abort {
				return nil
			}
			if err := b.switchService(ctx, b.active, replicaset.Hash(b.stableRS)); err != nil {
				return err
			}
			return b.abortBlueGreen(ctx, b.bg)
		}
	}
	if b.status.PromoteFull {
		return b.promote(ctx, b.active, v1alpha1.CompletionFastPromoted)
	}
	return b.promote(ctx, b.active, v1alpha1.CompletionPromoted)
}

// skipChecks reports whether the update goes straight to the switch, with
// no analysis and no pause: promoted in full, or a rollback within
// rollbackWindow.
func (b *blueGreenRun) skipChecks() bool {
	return b.status.PromoteFull || b.rollbackWithinWindow()
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

// rollbackWithinWindow reports whether the new template is a revision
// within rollbackWindow of the stable one: a rollback to it skips the
// steps, the analyses and the pauses, as a full promotion does.
func (s *syncer) rollbackWithinWindow() bool {
	w := s.ro.Spec.RollbackWindow
	if w == nil || w.Revisions <= 0 || s.newRS == nil || s.stableRS == nil {
		return false
	}
	newRev, stableRev := replicaset.Revision(s.newRS), replicaset.Revision(s.stableRS)
	return newRev < stableRev && stableRev-newRev <= int64(w.Revisions)
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
	s.status.Canary.CurrentExperiment = ""
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
