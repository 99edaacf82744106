package rollout

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// maxReportedPods bounds how many unhealthy pods a message names.
const maxReportedPods = 3

// diagnose explains why the new ReplicaSet's pods are not available yet:
// which pods, and what their containers say (CrashLoopBackOff, an image that
// cannot be pulled, a failing readiness probe...).
func (s *syncer) diagnose(ctx context.Context) error {
	if s.newRS == nil || replicaset.Available(s.newRS, replicaset.Replicas(s.newRS)) {
		return nil
	}
	var pods corev1.PodList
	if err := s.r.Client.List(ctx, &pods, ctrl.InNamespace(s.ro.Namespace), ctrl.MatchingFields{hashIndex: s.hash}); err != nil {
		return fmt.Errorf("listing the new pods: %w", err)
	}
	var problems []string
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	for i := range pods.Items {
		if why := podProblem(&pods.Items[i], s.now); why != "" {
			problems = append(problems, why)
		}
	}
	if len(problems) > maxReportedPods {
		problems = append(problems[:maxReportedPods], fmt.Sprintf("and %d more", len(problems)-maxReportedPods))
	}
	s.podProblems = strings.Join(problems, "; ")
	return nil
}

// podProblem says why pod is not ready, or "" when it is, or when it is
// simply still starting.
func podProblem(pod *corev1.Pod, now time.Time) string {
	if pod.DeletionTimestamp != nil {
		return ""
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return ""
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "ContainerCreating" && cs.State.Waiting.Reason != "PodInitializing":
			return fmt.Sprintf("pod %s: container %s is in %s", pod.Name, cs.Name, cs.State.Waiting.Reason)
		case cs.State.Terminated != nil:
			return fmt.Sprintf("pod %s: container %s exited with code %d (%s)", pod.Name, cs.Name, cs.State.Terminated.ExitCode, cs.State.Terminated.Reason)
		case cs.State.Running != nil && !cs.Ready && cs.State.Running.StartedAt.Add(10*time.Second).Before(now):
			return fmt.Sprintf("pod %s: container %s runs but is not ready", pod.Name, cs.Name)
		}
	}
	if pod.Status.Phase == corev1.PodPending && pod.Spec.NodeName == "" {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
				return fmt.Sprintf("pod %s is not scheduled: %s", pod.Name, c.Message)
			}
		}
	}
	return ""
}

// progressing sets the Progressing condition of an update that is not
// finished, and checks its deadline. The condition's lastUpdateTime is the
// last time the update made progress (more pods available, or a new step):
// a message that only adds what is wrong with pods does not reset it.
func (s *syncer) progressing(desired int32) {
	counts := s.progressMessage(desired)
	message := counts
	if s.podProblems != "" {
		message = counts + "; " + s.podProblems
	}
	now := metav1.NewTime(s.now)
	cond := s.condition(v1alpha1.RolloutProgressing)
	if cond == nil || cond.Reason != v1alpha1.ReasonReplicaSetUpdated || cond.Status != corev1.ConditionTrue ||
		strings.SplitN(cond.Message, "; ", 2)[0] != counts {
		s.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionTrue, v1alpha1.ReasonReplicaSetUpdated, message)
		cond = s.condition(v1alpha1.RolloutProgressing)
		cond.LastUpdateTime = now
	} else if cond.Message != message {
		cond.Message = message
	}
	s.status.Message = message

	if s.newRS != nil && replicaset.Available(s.newRS, replicaset.Replicas(s.newRS)) {
		// The pods are there: the update waits for something else (an
		// analysis, a weight to be verified), which the deadline does not
		// time. It starts again when the pods change.
		return
	}
	deadline := cond.LastUpdateTime.Add(seconds(s.ro.Spec.GetProgressDeadlineSeconds()))
	if wait := deadline.Sub(s.now); wait > 0 {
		s.after(wait)
		return
	}
	msg := fmt.Sprintf("ReplicaSet %s made no progress for %ds: %s", s.newRS.Name, s.ro.Spec.GetProgressDeadlineSeconds(), message)
	if s.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.ReasonProgressDeadlineExceeded, msg) {
		s.event(corev1.EventTypeWarning, v1alpha1.ReasonProgressDeadlineExceeded, "%s", msg)
	}
	s.status.Phase = v1alpha1.RolloutPhaseDegraded
	s.status.Message = "ProgressDeadlineExceeded: " + msg
	if s.ro.Spec.ProgressDeadlineAbort && !s.status.Abort {
		s.status.Abort = true
		s.after(time.Millisecond)
	}
}

func (s *syncer) condition(t v1alpha1.RolloutConditionType) *v1alpha1.RolloutCondition {
	for i := range s.status.Conditions {
		if s.status.Conditions[i].Type == t {
			return &s.status.Conditions[i]
		}
	}
	return nil
}
