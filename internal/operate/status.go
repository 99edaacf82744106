package operate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/canary"
)

// ExperimentInfo is everything `get experiment` shows: the experiment, its
// templates' ReplicaSets and pods, its Services and its AnalysisRuns, each
// kept only if the experiment (or its ReplicaSet) owns it.
type ExperimentInfo struct {
	Experiment  *v1alpha1.Experiment
	ReplicaSets []appsv1.ReplicaSet
	Pods        map[string][]corev1.Pod // by ReplicaSet name
	Services    []corev1.Service
	Runs        []v1alpha1.AnalysisRun
}

// Phase is the rollout's phase, or Progressing before the controller has
// looked at this generation.
func Phase(ro *v1alpha1.Rollout) string {
	if ro.Status.Phase == "" {
		return "Progressing"
	}
	return string(ro.Status.Phase)
}

// ActualWeight is the canary's share of the traffic as Argo Rollouts'
// plugin shows it: the full weight once the steps are done; with traffic
// routing, the weight the router recorded (the step's while none is);
// without, the canary ReplicaSet's share of the available pods.
func ActualWeight(info *Info) int32 {
	ro := info.Rollout
	c := ro.Spec.Strategy.Canary
	full := c.GetMaxTrafficWeight()
	idx := ptr.Deref(ro.Status.CurrentStepIndex, 0)
	if int(idx) >= len(c.Steps) {
		return full
	}
	if ro.Status.AvailableReplicas <= 0 {
		return 0
	}
	if c.TrafficRouting != nil {
		if w := ro.Status.Canary.Weights; w != nil {
			return w.Canary.Weight
		}
		return canary.Weight(c.Steps, idx, full)
	}
	for _, rev := range info.Revisions {
		if rev.Hash == ro.Status.CurrentPodHash && rev.Hash != ro.Status.StableRS && rev.RS != nil {
			return rev.RS.Status.AvailableReplicas * full / ro.Status.AvailableReplicas
		}
	}
	return 0
}

// PauseLeft is how long the current canary pause step has left, when it is
// a timed one.
func PauseLeft(ro *v1alpha1.Rollout, now time.Time) (time.Duration, bool) {
	c := ro.Spec.Strategy.Canary
	if c == nil || ro.Status.CurrentStepIndex == nil {
		return 0, false
	}
	idx := int(*ro.Status.CurrentStepIndex)
	if idx >= len(c.Steps) || c.Steps[idx].Pause == nil {
		return 0, false
	}
	d, indefinite, err := canary.PauseDuration(c.Steps[idx].Pause)
	if err != nil || indefinite {
		return 0, false
	}
	for _, p := range ro.Status.PauseConditions {
		if p.Reason == v1alpha1.PauseReasonCanaryPauseStep {
			return max(0, p.StartTime.Add(d).Sub(now)).Round(time.Second), true
		}
	}
	return 0, false
}

// ImageLines list each revision's images with its roles, newest first,
// skipping revisions that have no role.
func ImageLines(info *Info) []string {
	var out []string
	seen := map[string]bool{}
	for _, rev := range info.Revisions {
		roles := info.Roles(rev)
		if len(roles) == 0 {
			continue
		}
		for _, c := range rev.RS.Spec.Template.Spec.Containers {
			line := fmt.Sprintf("%s (%s)", c.Image, strings.Join(roles, ", "))
			if !seen[line] {
				seen[line] = true
				out = append(out, line)
			}
		}
	}
	return out
}

// PodStatus is a pod's status as kubectl prints it (the waiting reason of a container, Terminating...).
func PodStatus(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Waiting != nil && c.State.Waiting.Reason != "" {
			return c.State.Waiting.Reason
		}
	}
	if p.Status.Phase == "" {
		return "Pending"
	}
	return string(p.Status.Phase)
}

// PodInfo is a pod's ready containers and restarts.
func PodInfo(p *corev1.Pod) string {
	ready, restarts := 0, int32(0)
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			ready++
		}
		restarts += c.RestartCount
	}
	s := fmt.Sprintf("ready:%d/%d", ready, len(p.Spec.Containers))
	if restarts > 0 {
		s += fmt.Sprintf(",restarts:%d", restarts)
	}
	return s
}

// RunPhase is an AnalysisRun's phase, Pending before it has one.
func RunPhase(run *v1alpha1.AnalysisRun) string {
	if run.Status.Phase == "" {
		return "Pending"
	}
	return string(run.Status.Phase)
}

// RunSummary counts a run's measurements by outcome ("successful:3,failed:1"),
// as `ramp get rollout` prints it.
func RunSummary(run *v1alpha1.AnalysisRun) string {
	counts := map[v1alpha1.AnalysisPhase]int32{}
	for _, m := range run.Status.MetricResults {
		counts[v1alpha1.AnalysisPhaseSuccessful] += m.Successful
		counts[v1alpha1.AnalysisPhaseFailed] += m.Failed
		counts[v1alpha1.AnalysisPhaseInconclusive] += m.Inconclusive
		counts[v1alpha1.AnalysisPhaseError] += m.Error
	}
	var parts []string
	for _, p := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseInconclusive, v1alpha1.AnalysisPhaseError} {
		if counts[p] > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d", strings.ToLower(string(p)), counts[p]))
		}
	}
	return strings.Join(parts, ",")
}

// JobStatus is a Job's outcome (Successful, Failed) or Running.
func JobStatus(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			switch c.Type {
			case batchv1.JobComplete:
				return "Successful"
			case batchv1.JobFailed:
				return "Failed"
			}
		}
	}
	return "Running"
}

// ExperimentPhase is an Experiment's phase, Pending before it has one.
func ExperimentPhase(ex *v1alpha1.Experiment) string {
	if ex.Status.Phase == "" {
		return "Pending"
	}
	return string(ex.Status.Phase)
}

// ReplicaSetStatus is a ReplicaSet's state: Healthy, Progressing or ScaledDown.
func ReplicaSetStatus(rs *appsv1.ReplicaSet) string {
	want := ptr.Deref(rs.Spec.Replicas, 1)
	switch {
	case want == 0 && rs.Status.Replicas == 0:
		return "ScaledDown"
	case rs.Status.AvailableReplicas >= want && rs.Status.Replicas == want:
		return "Healthy"
	}
	return "Progressing"
}

// LoadExperiment reads what belongs to ex, by its name label.
func LoadExperiment(ctx context.Context, cl client.Reader, ex *v1alpha1.Experiment) (*ExperimentInfo, error) {
	info := &ExperimentInfo{Experiment: ex, Pods: map[string][]corev1.Pod{}}
	ns := client.InNamespace(ex.Namespace)
	mine := client.MatchingLabels{v1alpha1.ExperimentNameLabelKey: ex.Name}
	var rss appsv1.ReplicaSetList
	if err := cl.List(ctx, &rss, ns, mine); err != nil {
		return nil, fmt.Errorf("listing the experiment's ReplicaSets: %w", err)
	}
	for _, rs := range rss.Items {
		if ownedBy(rs.OwnerReferences, ex.UID) {
			info.ReplicaSets = append(info.ReplicaSets, rs)
		}
	}
	slices.SortFunc(info.ReplicaSets, func(a, b appsv1.ReplicaSet) int { return strings.Compare(a.Name, b.Name) })
	var pods corev1.PodList
	if err := cl.List(ctx, &pods, ns, mine); err != nil {
		return nil, fmt.Errorf("listing the experiment's Pods: %w", err)
	}
	for _, p := range pods.Items {
		for _, rs := range info.ReplicaSets {
			if ownedBy(p.OwnerReferences, rs.UID) {
				info.Pods[rs.Name] = append(info.Pods[rs.Name], p)
			}
		}
	}
	for _, list := range info.Pods {
		slices.SortFunc(list, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	}
	var svcs corev1.ServiceList
	if err := cl.List(ctx, &svcs, ns, mine); err != nil {
		return nil, fmt.Errorf("listing the experiment's Services: %w", err)
	}
	for _, s := range svcs.Items {
		if ownedBy(s.OwnerReferences, ex.UID) {
			info.Services = append(info.Services, s)
		}
	}
	var runs v1alpha1.AnalysisRunList
	if err := cl.List(ctx, &runs, ns, mine); err != nil {
		return nil, fmt.Errorf("listing the experiment's AnalysisRuns: %w", err)
	}
	for _, r := range runs.Items {
		if ownedBy(r.OwnerReferences, ex.UID) {
			info.Runs = append(info.Runs, r)
		}
	}
	slices.SortFunc(info.Runs, func(a, b v1alpha1.AnalysisRun) int { return strings.Compare(a.Name, b.Name) })
	return info, nil
}
