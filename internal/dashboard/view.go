package dashboard

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/canary"
	"github.com/rampdev/ramp/internal/operate"
)

// The views are what the templates show, built from the objects as
// internal/operate reads and words them, so the page and `ramp get rollout`
// agree.

// row is a rollout in the list.
type row struct {
	Name, Namespace, Strategy, Status, Message string
	// Step is "2/8" for a canary with steps.
	Step string
	// Weight is the canary's set weight ("20%"), empty for blue/green.
	Weight  string
	Images  []string
	Created time.Time
}

func rowOf(ro *v1alpha1.Rollout) row {
	r := row{Name: ro.Name, Namespace: ro.Namespace, Status: operate.Phase(ro), Message: ro.Status.Message, Created: ro.CreationTimestamp.Time}
	switch {
	case ro.Spec.Strategy.BlueGreen != nil:
		r.Strategy = "BlueGreen"
	case ro.Spec.Strategy.Canary != nil:
		r.Strategy = "Canary"
		c := ro.Spec.Strategy.Canary
		idx := ptr.Deref(ro.Status.CurrentStepIndex, 0)
		if n := int32(len(c.Steps)); n > 0 {
			idx = min(idx, n)
			r.Step = fmt.Sprintf("%d/%d", idx, n)
		}
		r.Weight = fmt.Sprintf("%d%%", canary.Weight(c.Steps, idx, c.GetMaxTrafficWeight()))
	}
	for _, c := range ro.Spec.Template.Spec.Containers {
		r.Images = append(r.Images, c.Image)
	}
	if ro.Spec.WorkloadRef != nil && len(r.Images) == 0 {
		r.Images = append(r.Images, "("+operate.KindOf(ro.Spec.WorkloadRef.Kind)+" "+ro.Spec.WorkloadRef.Name+")")
	}
	return r
}

// rolloutView is a rollout's page.
type rolloutView struct {
	row
	RO   *v1alpha1.Rollout
	Info *operate.Info
	// State is the token of what the page shows (operate.State): the
	// actions carry it and are refused once the rollout moved on.
	State string
	// Canary: the step, weights and pause.
	HasSteps                bool
	SetWeight, ActualWeight int32
	PauseLeft               string
	Steps                   []stepView
	Revisions               []revisionView
	// Containers name what Set image may change.
	Containers []string
	// Notice says what the viewer may not see.
	Notice string
}

type stepView struct {
	Number int
	Text   string
	// State is done, current or next.
	State string
}

type revisionView struct {
	Number   int
	Roles    []string
	RS       string
	RSStatus string
	Images   []string
	Pods     []podView
	Runs     []runView
	Exps     []expView
	Current  bool
}

type podView struct{ Name, Status, Info string }

type runView struct{ Name, Phase, Summary, Kind string }

type expView struct{ Name, Phase string }

func rolloutViewOf(info *operate.Info, now time.Time) rolloutView {
	ro := info.Rollout
	v := rolloutView{row: rowOf(ro), RO: ro, Info: info, State: operate.StateOf(ro).Token()}
	if c := ro.Spec.Strategy.Canary; c != nil {
		n := int32(len(c.Steps))
		idx := min(ptr.Deref(ro.Status.CurrentStepIndex, 0), n)
		v.HasSteps = n > 0
		v.SetWeight = canary.Weight(c.Steps, idx, c.GetMaxTrafficWeight())
		v.ActualWeight = operate.ActualWeight(info)
		if left, ok := operate.PauseLeft(ro, now); ok {
			v.PauseLeft = duration.HumanDuration(left)
		}
		for i, s := range c.Steps {
			st := "next"
			switch {
			case int32(i) < idx:
				st = "done"
			case int32(i) == idx:
				st = "current"
			}
			v.Steps = append(v.Steps, stepView{Number: i, Text: stepText(s), State: st})
		}
	}
	for _, c := range ro.Spec.Template.Spec.Containers {
		v.Containers = append(v.Containers, c.Name)
	}
	for _, rev := range info.Revisions {
		rv := revisionView{Number: rev.Number, Roles: info.Roles(rev), Current: rev.Hash == ro.Status.CurrentPodHash}
		if rev.RS != nil {
			rv.RS, rv.RSStatus = rev.RS.Name, operate.ReplicaSetStatus(rev.RS)
			for _, c := range rev.RS.Spec.Template.Spec.Containers {
				rv.Images = append(rv.Images, c.Image)
			}
		}
		for i := range rev.Pods {
			p := &rev.Pods[i]
			rv.Pods = append(rv.Pods, podView{p.Name, operate.PodStatus(p), operate.PodInfo(p)})
		}
		for _, r := range rev.Runs {
			rv.Runs = append(rv.Runs, runView{r.Run.Name, operate.RunPhase(r.Run), operate.RunSummary(r.Run), r.Run.Labels[v1alpha1.RolloutTypeLabel]})
		}
		for _, x := range rev.Experiments {
			rv.Exps = append(rv.Exps, expView{x.Experiment.Name, operate.ExperimentPhase(x.Experiment)})
		}
		v.Revisions = append(v.Revisions, rv)
	}
	return v
}

// stepText says what a canary step does, in the words of its fields.
func stepText(s v1alpha1.CanaryStep) string {
	var parts []string
	if s.SetWeight != nil {
		parts = append(parts, fmt.Sprintf("Set weight %d%%", *s.SetWeight))
	}
	if s.Pause != nil {
		if s.Pause.Duration == nil {
			parts = append(parts, "Pause until promoted")
		} else {
			parts = append(parts, "Pause "+s.Pause.Duration.String())
		}
	}
	if s.Analysis != nil {
		parts = append(parts, "Analysis "+templateNames(s.Analysis.Templates))
	}
	if s.Experiment != nil {
		var names []string
		for _, t := range s.Experiment.Templates {
			names = append(names, t.Name)
		}
		parts = append(parts, "Experiment "+strings.Join(names, ", "))
	}
	if s.SetCanaryScale != nil {
		switch sc := s.SetCanaryScale; {
		case sc.Replicas != nil:
			parts = append(parts, fmt.Sprintf("Canary scale %d replicas", *sc.Replicas))
		case sc.Weight != nil:
			parts = append(parts, fmt.Sprintf("Canary scale %d%%", *sc.Weight))
		default:
			parts = append(parts, "Canary scale follows the weight")
		}
	}
	if s.SetHeaderRoute != nil {
		parts = append(parts, "Header route "+s.SetHeaderRoute.Name)
	}
	if s.SetMirrorRoute != nil {
		parts = append(parts, "Mirror route "+s.SetMirrorRoute.Name)
	}
	if s.Plugin != nil {
		parts = append(parts, "Plugin "+s.Plugin.Name)
	}
	return strings.Join(parts, " · ")
}

func templateNames(refs []v1alpha1.AnalysisTemplateRef) string {
	var names []string
	for _, t := range refs {
		names = append(names, t.TemplateName)
	}
	return strings.Join(names, ", ")
}

// statusClass is the CSS class of a status word, as the CLI colours it.
func statusClass(word string) string {
	switch word {
	case "Healthy", "Successful", "Running", "Succeeded", "Complete":
		return "ok"
	case "Progressing", "Pending", "ContainerCreating":
		return "progress"
	case "Paused", "Inconclusive":
		return "paused"
	case "Degraded", "Failed", "Error", "CrashLoopBackOff", "Aborted":
		return "bad"
	}
	return "neutral"
}

func funcs(c clock.PassiveClock) template.FuncMap {
	return template.FuncMap{
		"age": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return duration.HumanDuration(c.Since(t))
		},
		"statusClass": statusClass,
		"join":        strings.Join,
		"has":         slices.Contains[[]string],
		"sub":         func(a, b int32) int32 { return a - b },
		"actions":     func() []actionButton { return buttons },
	}
}

func templateEscape(s string) string { return template.HTMLEscapeString(s) }

// actionButton is one of the rollout page's buttons.
type actionButton struct{ Name, Label, Class, Help string }

// buttons are the CLI's actions on a rollout, as the page offers them.
var buttons = []actionButton{
	{"promote", "Promote", "primary", "End the current pause or step (ramp promote)"},
	{"promote-full", "Promote full", "", "Skip every remaining step, pause and analysis (ramp promote --full)"},
	{"abort", "Abort", "danger", "Send all traffic back to the stable version (ramp abort)"},
	{"retry", "Retry", "", "Start an aborted update over (ramp retry)"},
	{"pause", "Pause", "", "Hold the rollout where it is (ramp pause)"},
	{"resume", "Resume", "", "Lift a pause made with Pause (ramp resume)"},
	{"restart", "Restart", "", "Replace every pod, a few at a time (ramp restart)"},
}
