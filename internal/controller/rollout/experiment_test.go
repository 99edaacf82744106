package rollout_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// The canary experiment step with the Experiment controller (the
// AnalysisRun controller is left out of this package: the tests set the
// runs' phases). internal/controller/analysisrun runs it with a real
// Prometheus.

// experimentStep runs the stable and the canary version side by side, the
// analysis "rate" (when analyses) measuring the canary template's pods.
func experimentStep(duration string, analyses bool) v1alpha1.CanaryStep {
	step := &v1alpha1.RolloutExperimentStep{
		Duration: v1alpha1.DurationString(duration),
		Templates: []v1alpha1.RolloutExperimentTemplate{
			{Name: "baseline", SpecRef: v1alpha1.StableSpecRef},
			{Name: "canary", SpecRef: v1alpha1.CanarySpecRef},
		},
		ScaleDownDelaySeconds: ptr.To[int32](0),
	}
	if analyses {
		step.Analyses = []v1alpha1.RolloutExperimentStepAnalysisTemplateRef{{
			Name: "rate", TemplateName: "rate", RequiredForCompletion: true,
			Args: []v1alpha1.AnalysisRunArgument{{Name: "hash", Value: "{{templates.canary.podTemplateHash}}"}},
		}}
	}
	return v1alpha1.CanaryStep{Experiment: step}
}

func (e *env) experiment(name string) *v1alpha1.Experiment {
	e.t.Helper()
	ex := &v1alpha1.Experiment{}
	e.eventually(30*time.Second, "Experiment "+name, func() (bool, string) {
		err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, ex)
		return err == nil, fmt.Sprint(err)
	})
	return ex
}

func (e *env) experimentPhase(name string, phase v1alpha1.AnalysisPhase) *v1alpha1.Experiment {
	e.t.Helper()
	ex := &v1alpha1.Experiment{}
	e.eventually(60*time.Second, "Experiment "+name+" "+string(phase), func() (bool, string) {
		err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, ex)
		return err == nil && ex.Status.Phase == phase, fmt.Sprintf("%v %s: %s", err, ex.Status.Phase, ex.Status.Message)
	})
	return ex
}

// experimentScaledDown waits for every ReplicaSet of the experiment to be
// scaled to zero.
func (e *env) experimentScaledDown(name string) {
	e.t.Helper()
	e.eventually(60*time.Second, "Experiment "+name+" scaled down", func() (bool, string) {
		var list appsv1.ReplicaSetList
		if err := cl.List(e.ctx, &list, client.InNamespace(e.ns), client.MatchingLabels{v1alpha1.ExperimentNameLabelKey: name}); err != nil {
			return false, err.Error()
		}
		var sizes []string
		for _, rs := range list.Items {
			if ptr.Deref(rs.Spec.Replicas, 0) != 0 || rs.Status.Replicas != 0 {
				sizes = append(sizes, fmt.Sprintf("%s %d/%d", rs.Name, ptr.Deref(rs.Spec.Replicas, 0), rs.Status.Replicas))
			}
		}
		return len(list.Items) > 0 && len(sizes) == 0, fmt.Sprintf("%d ReplicaSets, running: %v", len(list.Items), sizes)
	})
}

// A step's experiment, owned by the rollout, runs the stable and the canary
// pod templates; its Inconclusive analysis pauses the rollout with
// InconclusiveExperiment until promoted, and the weight stays where it was.
func TestCanaryExperimentStepInconclusivePausesUntilPromoted(t *testing.T) {
	e := newEnv(t)
	e.template("rate")
	e.canaryServices("exi")
	e.create(canaryRollout("exi", 1, routed("exi", weight(20), experimentStep("", true), weight(100))))
	e.waitPhase("exi", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("exi", "example/exi:2")
	ro := e.waitStep("exi", 1, v1alpha1.RolloutPhaseProgressing)
	name := "exi-" + ro.Status.CurrentPodHash + "-1"
	e.eventually(30*time.Second, "status.canary.currentExperiment", func() (bool, string) {
		got := e.rollout("exi").Status.Canary.CurrentExperiment
		return got == name, got
	})
	ex := e.experiment(name)
	if ref := metav1.GetControllerOf(ex); ref == nil || ref.Kind != "Rollout" || ref.Name != "exi" {
		t.Errorf("owner %v", ex.OwnerReferences)
	}
	images := map[string]string{}
	for _, tpl := range ex.Spec.Templates {
		images[tpl.Name] = tpl.Template.Spec.Containers[0].Image
	}
	if images["baseline"] != "example/exi:1" || images["canary"] != "example/exi:2" {
		t.Errorf("templates' images %v", images)
	}
	running := e.experimentPhase(name, v1alpha1.AnalysisPhaseRunning)
	canaryHash := ""
	for _, ts := range running.Status.TemplateStatuses {
		if ts.Name == "canary" {
			canaryHash = ts.PodTemplateHash
		}
	}
	run := e.run(name + "-rate")
	if got := run.Spec.Args[0].Value; got == nil || *got != canaryHash || canaryHash == "" {
		t.Errorf("run argument hash %v, canary template's hash %q", got, canaryHash)
	}
	e.finish(run, v1alpha1.AnalysisPhaseInconclusive)
	ro = e.waitStep("exi", 1, v1alpha1.RolloutPhasePaused)
	if len(ro.Status.PauseConditions) != 1 || ro.Status.PauseConditions[0].Reason != v1alpha1.PauseReasonInconclusiveExperiment {
		t.Fatalf("pause conditions %+v", ro.Status.PauseConditions)
	}
	if w := e.router("exi").Weight(); w != 20 {
		t.Errorf("weight %d while paused on the experiment, want 20", w)
	}
	e.promote("exi")
	ro = e.waitPhase("exi", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.Canary.CurrentExperiment != "" {
		t.Errorf("currentExperiment %q after the update", ro.Status.Canary.CurrentExperiment)
	}
	e.experimentScaledDown(name)
}

// Promoting past a running experiment step terminates the experiment,
// which scales its pods down; the rollout goes on.
func TestCanaryExperimentPromotedPastIsTerminated(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("exp")
	e.create(canaryRollout("exp", 1, routed("exp", weight(20), experimentStep("10m", false), weight(100))))
	e.waitPhase("exp", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("exp", "example/exp:2")
	name := "exp-" + e.waitStep("exp", 1, v1alpha1.RolloutPhaseProgressing).Status.CurrentPodHash + "-1"
	e.experimentPhase(name, v1alpha1.AnalysisPhaseRunning)
	e.promote("exp")
	e.waitPhase("exp", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	ex := e.experimentPhase(name, v1alpha1.AnalysisPhaseSuccessful)
	if !ex.Spec.Terminate {
		t.Errorf("experiment not terminated: %+v", ex.Spec)
	}
	e.experimentScaledDown(name)
}

// A failed experiment aborts the rollout with the experiment's message;
// the weight returns to 0. A retry deletes it and runs the step with a new
// one.
func TestCanaryFailedExperimentAbortsThenRetry(t *testing.T) {
	e := newEnv(t)
	e.template("rate")
	e.canaryServices("exf")
	e.create(canaryRollout("exf", 1, routed("exf", weight(20), experimentStep("", true), weight(100))))
	e.waitPhase("exf", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("exf", "example/exf:2")
	name := "exf-" + e.waitStep("exf", 1, v1alpha1.RolloutPhaseProgressing).Status.CurrentPodHash + "-1"
	e.experimentPhase(name, v1alpha1.AnalysisPhaseRunning)
	e.finish(e.run(name+"-rate"), v1alpha1.AnalysisPhaseFailed)
	e.experimentPhase(name, v1alpha1.AnalysisPhaseFailed)
	ro := e.waitPhase("exf", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if !strings.Contains(ro.Status.Message, "Experiment "+name+" is Failed") {
		t.Errorf("message %q", ro.Status.Message)
	}
	e.eventually(30*time.Second, "weight 0", func() (bool, string) {
		w := e.router("exf").Weight()
		return w == 0, fmt.Sprint(w)
	})
	e.experimentScaledDown(name)
	failed := e.experiment(name).UID
	e.patchStatus("exf", func(s *v1alpha1.RolloutStatus) { s.Abort = false }) // ramp retry
	e.eventually(60*time.Second, "a new experiment for the step", func() (bool, string) {
		ex := &v1alpha1.Experiment{}
		err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, ex)
		return err == nil && ex.UID != failed && ex.Status.Phase == v1alpha1.AnalysisPhaseRunning, fmt.Sprint(err, " ", ex.UID, " ", ex.Status.Phase)
	})
	if ro := e.waitStep("exf", 1, v1alpha1.RolloutPhaseProgressing); ro.Status.Abort || ro.Status.Canary.CurrentExperiment != name {
		t.Errorf("after the retry: abort %v, currentExperiment %q", ro.Status.Abort, ro.Status.Canary.CurrentExperiment)
	}
}

// A weighted experiment template needs traffic routing.
func TestCanaryWeightedExperimentWithoutRoutingIsInvalid(t *testing.T) {
	e := newEnv(t)
	step := experimentStep("1m", false)
	step.Experiment.Templates[1].Weight = ptr.To[int32](5)
	e.create(canaryRollout("exw", 1, v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{step}}))
	ro := e.waitPhase("exw", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if c := condition(ro, v1alpha1.InvalidSpec); c == nil || !strings.Contains(c.Message, "steps[0].experiment.templates[1].weight: a weighted experiment template needs traffic routing") {
		t.Errorf("InvalidSpec %+v", c)
	}
}

// Weighted templates: while the experiment runs, the router sends each
// template's Service its weight beside the canary's, and the status shows
// them; once the step is done they lose it.
func TestCanaryWeightedExperimentGetsItsShare(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("exw")
	step := experimentStep("10m", false)
	step.Experiment.Templates[0].Weight = ptr.To[int32](5)
	step.Experiment.Templates[1].Weight = ptr.To[int32](10)
	ro := canaryRollout("exw", 1, routed("exw", weight(20), step, weight(100)))
	ro.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	e.create(ro)
	e.waitPhase("exw", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("exw", "example/exw:2")
	name := "exw-" + e.waitStep("exw", 1, v1alpha1.RolloutPhaseProgressing).Status.CurrentPodHash + "-1"
	want := map[string]int32{name + "-baseline": 5, name + "-canary": 10}
	e.eventually(30*time.Second, "the templates' Services weighted", func() (bool, string) {
		got := e.router("exw").Destinations()
		return maps.Equal(got, want) && e.router("exw").Weight() == 20, fmt.Sprint(got, " canary ", e.router("exw").Weight())
	})
	e.eventually(30*time.Second, "the status' weights", func() (bool, string) {
		w := e.rollout("exw").Status.Canary.Weights
		return w != nil && len(w.Additional) == 2 && w.Stable.Weight == 65 && w.Canary.Weight == 20, fmt.Sprintf("%+v", w)
	})
	e.promote("exw")
	e.waitPhase("exw", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if got := e.router("exw").Destinations(); len(got) != 0 {
		t.Errorf("destinations %v after the step", got)
	}
	if w := e.rollout("exw").Status.Canary.Weights; w == nil || len(w.Additional) != 0 {
		t.Errorf("status weights %+v after the step", w)
	}
}

// Weights over the maximum are refused.
func TestCanaryExperimentWeightsOverTheMaximumAreInvalid(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("exo")
	step := experimentStep("1m", false)
	step.Experiment.Templates[1].Weight = ptr.To[int32](90)
	e.create(canaryRollout("exo", 1, routed("exo", weight(20), step)))
	ro := e.waitPhase("exo", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if c := condition(ro, v1alpha1.InvalidSpec); c == nil || !strings.Contains(c.Message, "steps[1].experiment.templates: the templates' weights and the canary's weight at the step add up to 110") {
		t.Errorf("InvalidSpec %+v", c)
	}
}

// A finished experiment of an earlier release beyond
// successfulRunHistoryLimit is deleted; the current release's is kept.
func TestExperimentHistoryLimit(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("exh")
	ro := canaryRollout("exh", 1, routed("exh", weight(20), experimentStep("10m", false), weight(100)))
	ro.Spec.Analysis = &v1alpha1.AnalysisRunStrategy{SuccessfulRunHistoryLimit: ptr.To[int32](0)}
	e.create(ro)
	e.waitPhase("exh", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	release := func(image string) string {
		e.setImage("exh", "example/exh:"+image)
		name := "exh-" + e.waitStep("exh", 1, v1alpha1.RolloutPhaseProgressing).Status.CurrentPodHash + "-1"
		e.experimentPhase(name, v1alpha1.AnalysisPhaseRunning)
		e.promote("exh")
		e.waitPhase("exh", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
		e.experimentPhase(name, v1alpha1.AnalysisPhaseSuccessful)
		return name
	}
	v2 := release("2")
	v3 := release("3")
	e.eventually(30*time.Second, "the earlier release's experiment deleted", func() (bool, string) {
		err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: v2}, &v1alpha1.Experiment{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: v3}, &v1alpha1.Experiment{}); err != nil {
		t.Fatalf("the current release's experiment: %v", err)
	}
}
