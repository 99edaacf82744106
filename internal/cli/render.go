package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/canary"
)

// style prints statuses: with symbols and colour on a terminal, as plain
// words otherwise.
type style struct{ color bool }

const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	blue   = "\x1b[34m"
	reset  = "\x1b[0m"
)

// status renders a status word ("Healthy", "Paused"...).
func (s style) status(word string) string {
	if !s.color {
		return word
	}
	symbol, color := "", ""
	switch word {
	case "Healthy", "Successful", "Running", "Succeeded", "Complete":
		symbol, color = "✔", green
	case "Progressing", "Pending", "ContainerCreating":
		symbol, color = "◌", blue
	case "Paused", "Inconclusive":
		symbol, color = "॥", yellow
	case "Degraded", "Failed", "Error", "CrashLoopBackOff", "Aborted":
		symbol, color = "✖", red
	case "ScaledDown", "Terminated":
		symbol = "•"
	}
	if symbol == "" {
		return word
	}
	return color + symbol + " " + word + reset
}

// age is how long ago t was, as kubectl prints it.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// renderRollout writes `get rollout`: a header, then the tree.
func renderRollout(w io.Writer, info *rolloutInfo, now time.Time, st style) {
	ro := info.ro
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name+":", fmt.Sprintf(format, args...))
	}
	field("Name", "%s", ro.Name)
	field("Namespace", "%s", ro.Namespace)
	field("Status", "%s", st.status(phase(ro)))
	if msg := ro.Status.Message; msg != "" {
		field("Message", "%s", msg)
	}
	switch {
	case ro.Spec.Strategy.BlueGreen != nil:
		field("Strategy", "BlueGreen")
	case ro.Spec.Strategy.Canary != nil:
		c := ro.Spec.Strategy.Canary
		field("Strategy", "Canary")
		if n := int32(len(c.Steps)); n > 0 {
			idx := min(ptr.Deref(ro.Status.CurrentStepIndex, 0), n)
			field("  Step", "%d/%d", idx, n)
			field("  SetWeight", "%d", canary.Weight(c.Steps, idx, c.GetMaxTrafficWeight()))
		}
		field("  ActualWeight", "%d", actualWeight(info))
		if left, ok := pauseLeft(ro, now); ok {
			field("  Pause", "%s left", duration.HumanDuration(left))
		}
	}
	images := imageLines(info)
	for i, line := range images {
		if i == 0 {
			field("Images", "%s", line)
		} else {
			fmt.Fprintf(tw, "\t%s\n", line)
		}
	}
	fmt.Fprintf(tw, "Replicas:\t\n")
	field("  Desired", "%d", ro.Spec.GetReplicas())
	field("  Current", "%d", ro.Status.Replicas)
	field("  Updated", "%d", ro.Status.UpdatedReplicas)
	field("  Ready", "%d", ro.Status.ReadyReplicas)
	field("  Available", "%d", ro.Status.AvailableReplicas)
	_ = tw.Flush()
	fmt.Fprintln(w)
	renderTree(w, info, now, st)
}

// phase is the rollout's phase, or Progressing before the controller has
// looked at this generation.
func phase(ro *v1alpha1.Rollout) string {
	if ro.Status.Phase == "" {
		return "Progressing"
	}
	return string(ro.Status.Phase)
}

// actualWeight is the canary's share of the traffic as Argo Rollouts'
// plugin shows it: the full weight once the steps are done; with traffic
// routing, the weight the router recorded (the step's while none is);
// without, the canary ReplicaSet's share of the available pods.
func actualWeight(info *rolloutInfo) int32 {
	ro := info.ro
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
	for _, rev := range info.revisions {
		if rev.hash == ro.Status.CurrentPodHash && rev.hash != ro.Status.StableRS && rev.rs != nil {
			return rev.rs.Status.AvailableReplicas * full / ro.Status.AvailableReplicas
		}
	}
	return 0
}

// pauseLeft is how long the current canary pause step has left, when it is
// a timed one.
func pauseLeft(ro *v1alpha1.Rollout, now time.Time) (time.Duration, bool) {
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

// imageLines list each revision's images with its roles, newest first,
// skipping revisions that have no role.
func imageLines(info *rolloutInfo) []string {
	var out []string
	seen := map[string]bool{}
	for _, rev := range info.revisions {
		roles := info.roles(rev)
		if len(roles) == 0 {
			continue
		}
		for _, c := range rev.rs.Spec.Template.Spec.Containers {
			line := fmt.Sprintf("%s (%s)", c.Image, strings.Join(roles, ", "))
			if !seen[line] {
				seen[line] = true
				out = append(out, line)
			}
		}
	}
	return out
}

// renderTree writes the revisions, ReplicaSets, pods, runs and jobs.
func renderTree(w io.Writer, info *rolloutInfo, now time.Time, st style) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSTATUS\tAGE\tINFO")
	ro := info.ro
	fmt.Fprintf(tw, "%s\tRollout\t%s\t%s\t\n", ro.Name, st.status(phase(ro)), age(now, ro.CreationTimestamp.Time))
	for i, rev := range info.revisions {
		last := i == len(info.revisions)-1
		branch, indent := "├──", "│  "
		if last {
			branch, indent = "└──", "   "
		}
		fmt.Fprintf(tw, "%s# revision:%d\t\t\t\t%s\n", branch, rev.number, strings.Join(info.roles(rev), ","))
		type row struct{ name, kind, status, age, info string }
		var rows []row
		rs := rev.rs
		rows = append(rows, row{rs.Name, "ReplicaSet", rsStatus(rev), age(now, rs.CreationTimestamp.Time), strings.Join(info.roles(rev), ",")})
		children := [][]row{nil}
		for _, p := range rev.pods {
			children[0] = append(children[0], row{p.Name, "Pod", podStatus(&p), age(now, p.CreationTimestamp.Time), podInfo(&p)})
		}
		for _, r := range rev.runs {
			rows = append(rows, row{r.run.Name, "AnalysisRun", runPhase(r.run), age(now, r.run.CreationTimestamp.Time), runSummary(r.run)})
			var jobs []row
			for _, j := range r.jobs {
				jobs = append(jobs, row{j.Name, "Job", jobStatus(&j), age(now, j.CreationTimestamp.Time), ""})
			}
			children = append(children, jobs)
		}
		for _, x := range rev.experiments {
			rows = append(rows, row{x.ex.Name, "Experiment", experimentPhase(x.ex), age(now, x.ex.CreationTimestamp.Time), ""})
			var parts []row
			for _, rs := range x.rss {
				parts = append(parts, row{rs.Name, "ReplicaSet", replicaSetStatus(&rs), age(now, rs.CreationTimestamp.Time), "template:" + rs.Labels[v1alpha1.ExperimentTemplateNameLabelKey]})
			}
			for _, r := range x.runs {
				parts = append(parts, row{r.Name, "AnalysisRun", runPhase(&r), age(now, r.CreationTimestamp.Time), runSummary(&r)})
			}
			children = append(children, parts)
		}
		for k, r := range rows {
			lastRow := k == len(rows)-1
			b, in := "├──", "│  "
			if lastRow {
				b, in = "└──", "   "
			}
			fmt.Fprintf(tw, "%s%s%s\t%s\t%s\t%s\t%s\n", indent, b, r.name, r.kind, st.status(r.status), r.age, r.info)
			for m, c := range children[k] {
				cb := "├──"
				if m == len(children[k])-1 {
					cb = "└──"
				}
				fmt.Fprintf(tw, "%s%s%s%s\t%s\t%s\t%s\t%s\n", indent, in, cb, c.name, c.kind, st.status(c.status), c.age, c.info)
			}
		}
	}
	_ = tw.Flush()
}

func rsStatus(rev *revision) string { return replicaSetStatus(rev.rs) }

func podStatus(p *corev1.Pod) string {
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

func podInfo(p *corev1.Pod) string {
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

func runPhase(run *v1alpha1.AnalysisRun) string {
	if run.Status.Phase == "" {
		return "Pending"
	}
	return string(run.Status.Phase)
}

// runSummary counts a run's measurements by outcome: "✔ 3,✖ 1" style,
// in words when plain.
func runSummary(run *v1alpha1.AnalysisRun) string {
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

func jobStatus(j *batchv1.Job) string {
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

// renderRun writes `get analysisrun`: the run, then each metric with its
// conditions and measurements, newest last.
func renderRun(w io.Writer, run *v1alpha1.AnalysisRun, now time.Time, st style) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", run.Name)
	fmt.Fprintf(tw, "Namespace:\t%s\n", run.Namespace)
	fmt.Fprintf(tw, "Status:\t%s\n", st.status(runPhase(run)))
	if run.Status.Message != "" {
		fmt.Fprintf(tw, "Message:\t%s\n", run.Status.Message)
	}
	fmt.Fprintf(tw, "Age:\t%s\n", age(now, run.CreationTimestamp.Time))
	_ = tw.Flush()
	results := map[string]*v1alpha1.MetricResult{}
	for i := range run.Status.MetricResults {
		results[run.Status.MetricResults[i].Name] = &run.Status.MetricResults[i]
	}
	for _, m := range run.Spec.Metrics {
		fmt.Fprintf(w, "\nMetric: %s\n", m.Name)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		res := results[m.Name]
		ph := "Pending"
		if res != nil && res.Phase != "" {
			ph = string(res.Phase)
		}
		fmt.Fprintf(tw, "  Phase:\t%s\n", st.status(ph))
		if res != nil && res.Message != "" {
			fmt.Fprintf(tw, "  Message:\t%s\n", res.Message)
		}
		if m.SuccessCondition != "" {
			fmt.Fprintf(tw, "  Success:\t%s\n", m.SuccessCondition)
		}
		if m.FailureCondition != "" {
			fmt.Fprintf(tw, "  Failure:\t%s\n", m.FailureCondition)
		}
		if res != nil {
			fmt.Fprintf(tw, "  Counts:\t%d measured: %d successful, %d failed, %d inconclusive, %d error\n", res.Count, res.Successful, res.Failed, res.Inconclusive, res.Error)
		}
		_ = tw.Flush()
		if res == nil || len(res.Measurements) == 0 {
			continue
		}
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tPHASE\tVALUE\tAGE\tMESSAGE")
		first := int(res.Count) - len(res.Measurements) // older ones were trimmed
		for i, ms := range res.Measurements {
			at := time.Time{}
			if ms.StartedAt != nil {
				at = ms.StartedAt.Time
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", first+i+1, st.status(string(ms.Phase)), ms.Value, age(now, at), ms.Message)
		}
		_ = tw.Flush()
	}
}
