package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/canary"
	"github.com/rampdev/ramp/internal/operate"
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
func renderRollout(w io.Writer, info *operate.Info, now time.Time, st style) {
	ro := info.Rollout
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name+":", fmt.Sprintf(format, args...))
	}
	field("Name", "%s", ro.Name)
	field("Namespace", "%s", ro.Namespace)
	field("Status", "%s", st.status(operate.Phase(ro)))
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
		field("  ActualWeight", "%d", operate.ActualWeight(info))
		if left, ok := operate.PauseLeft(ro, now); ok {
			field("  Pause", "%s left", duration.HumanDuration(left))
		}
	}
	images := operate.ImageLines(info)
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

// renderTree writes the revisions, ReplicaSets, pods, runs and jobs.
func renderTree(w io.Writer, info *operate.Info, now time.Time, st style) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSTATUS\tAGE\tINFO")
	ro := info.Rollout
	fmt.Fprintf(tw, "%s\tRollout\t%s\t%s\t\n", ro.Name, st.status(operate.Phase(ro)), age(now, ro.CreationTimestamp.Time))
	for i, rev := range info.Revisions {
		last := i == len(info.Revisions)-1
		branch, indent := "├──", "│  "
		if last {
			branch, indent = "└──", "   "
		}
		fmt.Fprintf(tw, "%s# revision:%d\t\t\t\t%s\n", branch, rev.Number, strings.Join(info.Roles(rev), ","))
		type row struct{ name, kind, status, age, info string }
		var rows []row
		rs := rev.RS
		rows = append(rows, row{rs.Name, "ReplicaSet", rsStatus(rev), age(now, rs.CreationTimestamp.Time), strings.Join(info.Roles(rev), ",")})
		children := [][]row{nil}
		for _, p := range rev.Pods {
			children[0] = append(children[0], row{p.Name, "Pod", operate.PodStatus(&p), age(now, p.CreationTimestamp.Time), operate.PodInfo(&p)})
		}
		for _, r := range rev.Runs {
			rows = append(rows, row{r.Run.Name, "AnalysisRun", operate.RunPhase(r.Run), age(now, r.Run.CreationTimestamp.Time), operate.RunSummary(r.Run)})
			var jobs []row
			for _, j := range r.Jobs {
				jobs = append(jobs, row{j.Name, "Job", operate.JobStatus(&j), age(now, j.CreationTimestamp.Time), ""})
			}
			children = append(children, jobs)
		}
		for _, x := range rev.Experiments {
			rows = append(rows, row{x.Experiment.Name, "Experiment", operate.ExperimentPhase(x.Experiment), age(now, x.Experiment.CreationTimestamp.Time), ""})
			var parts []row
			for _, rs := range x.ReplicaSets {
				parts = append(parts, row{rs.Name, "ReplicaSet", operate.ReplicaSetStatus(&rs), age(now, rs.CreationTimestamp.Time), "template:" + rs.Labels[v1alpha1.ExperimentTemplateNameLabelKey]})
			}
			for _, r := range x.Runs {
				parts = append(parts, row{r.Name, "AnalysisRun", operate.RunPhase(&r), age(now, r.CreationTimestamp.Time), operate.RunSummary(&r)})
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

func rsStatus(rev *operate.Revision) string { return operate.ReplicaSetStatus(rev.RS) }

// renderRun writes `get analysisrun`: the run, then each metric with its
// conditions and measurements, newest last.
func renderRun(w io.Writer, run *v1alpha1.AnalysisRun, now time.Time, st style) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", run.Name)
	fmt.Fprintf(tw, "Namespace:\t%s\n", run.Namespace)
	fmt.Fprintf(tw, "Status:\t%s\n", st.status(operate.RunPhase(run)))
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
