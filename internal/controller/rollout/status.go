package rollout

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// computeStatus fills in the counters, phase, message and conditions from
// what sync saw and did.
func (s *syncer) computeStatus() {
	st := s.status
	st.ObservedGeneration = strconv.FormatInt(s.ro.Generation, 10)
	if sel, err := metav1.LabelSelectorAsSelector(s.ro.Spec.Selector); err == nil && s.ro.Spec.Selector != nil {
		st.Selector = sel.String()
	}
	oldPhase := st.Phase
	if s.invalid != "" {
		st.Phase = v1alpha1.RolloutPhaseDegraded
		st.Message = fmt.Sprintf("%s: %s", s.invalidReason, s.invalid)
		if s.setCondition(v1alpha1.InvalidSpec, corev1.ConditionTrue, s.invalidReason, s.invalid) {
			s.event(corev1.EventTypeWarning, s.invalidReason, "%s", s.invalid)
		}
		return
	}
	s.removeCondition(v1alpha1.InvalidSpec)
	s.countReplicas()
	available := st.AvailableReplicas

	desired := s.ro.Spec.GetReplicas()
	complete := s.newRS != nil && s.stableRS != nil && s.newRS.UID == s.stableRS.UID
	upToDate := complete && replicaset.Available(s.newRS, desired)
	switch {
	case st.Abort:
		st.Phase = v1alpha1.RolloutPhaseDegraded
		st.Message = "RolloutAborted: " + s.abortCause() + "; the stable version serves"
		if c := s.condition(v1alpha1.RolloutProgressing); c != nil && c.Reason == v1alpha1.ReasonRolloutAborted {
			// The cause was told at the abort; later reconciles keep it.
			st.Message = c.Message
		}
		s.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.ReasonRolloutAborted, st.Message)
	case s.ro.Spec.Paused:
		st.Phase = v1alpha1.RolloutPhasePaused
		st.Message = "manually paused"
		// Time paused does not count against the progress deadline.
		s.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionUnknown, v1alpha1.ReasonRolloutPaused, "Rollout is paused")
	case len(st.PauseConditions) > 0:
		st.Phase = v1alpha1.RolloutPhasePaused
		st.Message = string(st.PauseConditions[0].Reason)
		if s.pauseMessage != "" && st.PauseConditions[0].Reason == v1alpha1.PauseReasonCanaryPauseStep {
			st.Message = s.pauseMessage
		}
		s.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionUnknown, v1alpha1.ReasonRolloutPaused, "Rollout is paused")
	case !upToDate:
		st.Phase = v1alpha1.RolloutPhaseProgressing
		s.progressing(desired)
	case s.restartPending():
		st.Phase = v1alpha1.RolloutPhaseProgressing
		st.Message = fmt.Sprintf("restarting the pods created before %s", s.ro.Spec.RestartAt.UTC().Format(time.RFC3339))
		s.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionTrue, v1alpha1.ReasonReplicaSetUpdated, st.Message)
	default:
		st.Phase = v1alpha1.RolloutPhaseHealthy
		st.Message = ""
		s.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionTrue, v1alpha1.ReasonNewReplicaSetAvailable,
			fmt.Sprintf("ReplicaSet %s is available", s.newRS.Name))
	}
	s.setBool(v1alpha1.RolloutPaused, st.Phase == v1alpha1.RolloutPhasePaused, v1alpha1.ReasonRolloutPaused, "Rollout is paused", v1alpha1.ReasonRolloutResumed, "Rollout is not paused")
	s.setBool(v1alpha1.RolloutAvailable, available >= desired, "AvailableReplicas", "Rollout has the minimum number of available pods",
		"AvailableReplicas", fmt.Sprintf("%d of %d pods available", available, desired))
	s.setBool(v1alpha1.RolloutCompleted, complete && upToDate, v1alpha1.ReasonRolloutCompleted, "Rollout completed its update",
		v1alpha1.ReasonRolloutUpdated, "Rollout has an update in progress")
	s.setBool(v1alpha1.RolloutHealthy, st.Phase == v1alpha1.RolloutPhaseHealthy, v1alpha1.ReasonRolloutHealthy, "Rollout is healthy",
		v1alpha1.ReasonRolloutHealthy, "Rollout is not healthy")
	if oldPhase != st.Phase && st.Phase == v1alpha1.RolloutPhaseHealthy {
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutHealthy, "Rollout is healthy")
	}
}

// countReplicas fills the status's pod counts from the ReplicaSets.
func (s *syncer) countReplicas() {
	st := s.status
	st.Replicas, st.ReadyReplicas, st.AvailableReplicas = 0, 0, 0
	for _, rs := range s.rss {
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
	}
	st.UpdatedReplicas = 0
	if s.newRS != nil {
		st.UpdatedReplicas = s.newRS.Status.Replicas
	}
	st.HPAReplicas = st.Replicas
	if s.stableRS != nil && s.ro.Spec.Strategy.BlueGreen != nil {
		st.HPAReplicas = s.stableRS.Status.Replicas
	}
	if s.ro.Spec.Strategy.Canary != nil {
		// The canary's pods come on top of spec.replicas (or its surge does):
		// an HPA told about them would hold them as the new size and grow
		// the stable version by the canary's share, update after update.
		st.HPAReplicas = min(st.Replicas, s.ro.Spec.GetReplicas())
	}
}

func (s *syncer) progressMessage(desired int32) string {
	if s.newRS == nil {
		return "waiting for the new ReplicaSet"
	}
	counts := fmt.Sprintf("ReplicaSet %s: %d of %d pods available", s.newRS.Name, s.newRS.Status.AvailableReplicas, replicaset.Replicas(s.newRS))
	if s.stepMessage != "" {
		return s.stepMessage + ", " + counts
	}
	return counts
}

// abortCause says why the update was aborted: the analysis run that failed,
// the progress deadline, or a person.
func (s *syncer) abortCause() string {
	for _, run := range []*v1alpha1.RolloutAnalysisRunStatus{
		s.status.BlueGreen.PrePromotionAnalysisRunStatus, s.status.BlueGreen.PostPromotionAnalysisRunStatus,
		s.status.Canary.CurrentStepAnalysisRunStatus, s.status.Canary.CurrentBackgroundAnalysisRunStatus,
	} {
		if run != nil && (run.Status == v1alpha1.AnalysisPhaseFailed || run.Status == v1alpha1.AnalysisPhaseError) {
			msg := fmt.Sprintf("AnalysisRun %s is %s", run.Name, run.Status)
			if run.Message != "" {
				msg += " (" + run.Message + ")"
			}
			return msg
		}
	}
	if ex := s.stepExperiment; ex != nil && (ex.Status.Phase == v1alpha1.AnalysisPhaseFailed || ex.Status.Phase == v1alpha1.AnalysisPhaseError) {
		msg := fmt.Sprintf("Experiment %s is %s", ex.Name, ex.Status.Phase)
		if ex.Status.Message != "" {
			msg += " (" + ex.Status.Message + ")"
		}
		return msg
	}
	if c := s.condition(v1alpha1.RolloutProgressing); c != nil && c.Reason == v1alpha1.ReasonProgressDeadlineExceeded {
		return "the progress deadline passed"
	}
	return "the update was aborted"
}

// setBool sets a True/False condition with the reason and message of each.
func (s *syncer) setBool(t v1alpha1.RolloutConditionType, value bool, trueReason, trueMsg, falseReason, falseMsg string) {
	if value {
		s.setCondition(t, corev1.ConditionTrue, trueReason, trueMsg)
	} else {
		s.setCondition(t, corev1.ConditionFalse, falseReason, falseMsg)
	}
}

// setCondition sets a condition and reports whether it changed. Times
// change only with the condition, so a rollout at rest writes nothing.
func (s *syncer) setCondition(t v1alpha1.RolloutConditionType, status corev1.ConditionStatus, reason, message string) bool {
	now := metav1.NewTime(s.now)
	for i := range s.status.Conditions {
		c := &s.status.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status == status && c.Reason == reason && c.Message == message {
			return false
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message, c.LastUpdateTime = status, reason, message, now
		return true
	}
	s.status.Conditions = append(s.status.Conditions, v1alpha1.RolloutCondition{
		Type: t, Status: status, Reason: reason, Message: message, LastUpdateTime: now, LastTransitionTime: now,
	})
	return true
}

func (s *syncer) removeCondition(t v1alpha1.RolloutConditionType) {
	s.status.Conditions = slices.DeleteFunc(s.status.Conditions, func(c v1alpha1.RolloutCondition) bool { return c.Type == t })
	if len(s.status.Conditions) == 0 {
		s.status.Conditions = nil
	}
}
