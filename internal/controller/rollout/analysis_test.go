package rollout_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// template creates an AnalysisTemplate with one metric and a required
// argument.
func (e *env) template(name string) {
	e.t.Helper()
	err := cl.Create(e.ctx, &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Args: []v1alpha1.Argument{{Name: "hash"}, {Name: "service", Value: ptr.To("default-service")}},
			Metrics: []v1alpha1.Metric{{Name: "success-rate", SuccessCondition: "result[0] >= 0.95",
				Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: `rate(ok{hash="{{args.hash}}"}[1m])`}}}},
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// run waits for the AnalysisRun and returns it.
func (e *env) run(name string) *v1alpha1.AnalysisRun {
	e.t.Helper()
	run := &v1alpha1.AnalysisRun{}
	e.eventually(30*time.Second, "AnalysisRun "+name, func() (bool, string) {
		err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, run)
		return err == nil, fmt.Sprint(err)
	})
	return run
}

// finish sets a run's phase, as the AnalysisRun controller will.
func (e *env) finish(run *v1alpha1.AnalysisRun, phase v1alpha1.AnalysisPhase) {
	e.t.Helper()
	patch := client.MergeFrom(run.DeepCopy())
	run.Status.Phase = phase
	run.Status.Message = "set by the test"
	if err := cl.Status().Patch(e.ctx, run, patch); err != nil {
		e.t.Fatal(err)
	}
}

func analysisRollout(name string, pre, post bool) *v1alpha1.Rollout {
	a := &v1alpha1.RolloutAnalysis{
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "rate"}},
		Args:      []v1alpha1.AnalysisRunArgument{{Name: "hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: ptr.To(v1alpha1.Latest)}}},
	}
	bg := v1alpha1.BlueGreenStrategy{ActiveService: name + "-active", PreviewService: name + "-preview", ScaleDownDelaySeconds: ptr.To[int32](0), AbortScaleDownDelaySeconds: ptr.To[int32](1)}
	if pre {
		bg.PrePromotionAnalysis = a
	}
	if post {
		bg.PostPromotionAnalysis = a
	}
	return blueGreen(name, 2, bg)
}

func (e *env) analysisSetup(name string, pre, post bool) (v1 string) {
	e.t.Helper()
	e.template("rate")
	e.service(name+"-active", name)
	e.service(name+"-preview", name)
	e.create(analysisRollout(name, pre, post))
	v1 = e.waitPhase(name, v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage(name, "example/"+name+":2")
	return v1
}

func TestPrePromotionAnalysisSuccessPromotes(t *testing.T) {
	e := newEnv(t)
	v1 := e.analysisSetup("pre", true, false)
	ro := e.waitPhase("pre", v1alpha1.RolloutPhaseProgressing, 30*time.Second)
	v2 := ro.Status.CurrentPodHash
	run := e.run("pre-" + v2 + "-pre")
	// The run merges the template with the resolved arguments.
	if run.Labels[v1alpha1.RolloutTypeLabel] != v1alpha1.RolloutTypePrePromotionLabel || len(run.Spec.Metrics) != 1 {
		t.Errorf("run %+v", run.ObjectMeta)
	}
	args := map[string]string{}
	for _, a := range run.Spec.Args {
		args[a.Name] = ptr.Deref(a.Value, "")
	}
	if args["hash"] != v2 || args["service"] != "default-service" {
		t.Errorf("run arguments %v, want hash=%s and the template's default", args, v2)
	}
	// While it runs, the active Service stays on v1.
	if e.selector("pre-active") != v1 || e.selector("pre-preview") != v2 {
		t.Fatalf("active %s preview %s", e.selector("pre-active"), e.selector("pre-preview"))
	}
	e.finish(run, v1alpha1.AnalysisPhaseSuccessful)
	ro = e.waitPhase("pre", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v2 || e.selector("pre-active") != v2 {
		t.Fatalf("not promoted after a successful analysis: %+v", ro.Status)
	}
	if s := ro.Status.BlueGreen.PrePromotionAnalysisRunStatus; s == nil || s.Status != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("prePromotionAnalysisRunStatus %+v", s)
	}
}

func TestPrePromotionAnalysisFailureAborts(t *testing.T) {
	e := newEnv(t)
	v1 := e.analysisSetup("prefail", true, false)
	v2 := e.waitPhase("prefail", v1alpha1.RolloutPhaseProgressing, 30*time.Second).Status.CurrentPodHash
	e.finish(e.run("prefail-"+v2+"-pre"), v1alpha1.AnalysisPhaseFailed)
	ro := e.waitPhase("prefail", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if !ro.Status.Abort || e.selector("prefail-active") != v1 {
		t.Fatalf("after a failed analysis: abort %v, active %s", ro.Status.Abort, e.selector("prefail-active"))
	}
	e.waitEvent("prefail", v1alpha1.ReasonAnalysisRunFailed)
	e.eventually(20*time.Second, "v2 scaled down", func() (bool, string) {
		got := e.replicaSets("prefail")
		return got[v2] == [2]int32{0, 0} && got[v1] == [2]int32{2, 2}, fmt.Sprint(got)
	})
}

func TestPostPromotionAnalysisFailureSwitchesTrafficBack(t *testing.T) {
	e := newEnv(t)
	v1 := e.analysisSetup("post", false, true)
	var v2 string
	// After the switch the new version serves while it is analysed.
	e.eventually(30*time.Second, "active switched to v2 for the post-promotion analysis", func() (bool, string) {
		ro := e.rollout("post")
		v2 = ro.Status.CurrentPodHash
		return v2 != v1 && e.selector("post-active") == v2, fmt.Sprintf("active %s, status %s %s", e.selector("post-active"), ro.Status.Phase, ro.Status.Message)
	})
	if ro := e.rollout("post"); ro.Status.StableRS != v1 {
		t.Fatalf("v2 became stable before its post-promotion analysis: %+v", ro.Status)
	}
	e.finish(e.run("post-"+v2+"-post"), v1alpha1.AnalysisPhaseFailed)
	ro := e.waitPhase("post", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if e.selector("post-active") != v1 || ro.Status.StableRS != v1 {
		t.Fatalf("traffic not switched back: active %s, stable %s", e.selector("post-active"), ro.Status.StableRS)
	}
	// The message names the cause.
	if want := "RolloutAborted: AnalysisRun post-" + v2 + "-post is Failed"; !strings.Contains(ro.Status.Message, want) {
		t.Errorf("message %q, want %q", ro.Status.Message, want)
	}
}

func TestMissingAnalysisTemplateIsReported(t *testing.T) {
	e := newEnv(t)
	e.service("noat-active", "noat")
	e.service("noat-preview", "noat")
	e.create(analysisRollout("noat", true, false))
	e.waitPhase("noat", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("noat", "example/noat:2")
	ro := e.waitPhase("noat", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if c := condition(ro, v1alpha1.InvalidSpec); c == nil || !strings.Contains(c.Message, "AnalysisTemplate "+e.ns+"/rate not found") {
		t.Fatalf("InvalidSpec %+v", c)
	}
	// Created late, the template is picked up.
	e.template("rate")
	e.run("noat-" + ro.Status.CurrentPodHash + "-pre")
}

// Killed while an analysis runs, or during an abort, the controller
// resumes: the same run (not a second one), and the abort holds.
func TestControllerRestartDuringAnalysisAndAbort(t *testing.T) {
	e := newEnv(t)
	v1 := e.analysisSetup("rsa", true, false)
	v2 := e.waitPhase("rsa", v1alpha1.RolloutPhaseProgressing, 30*time.Second).Status.CurrentPodHash
	run := e.run("rsa-" + v2 + "-pre")
	restartController(t)
	runs := &v1alpha1.AnalysisRunList{}
	e.eventually(10*time.Second, "still one run after the restart", func() (bool, string) {
		if err := cl.List(e.ctx, runs, client.InNamespace(e.ns)); err != nil {
			return false, err.Error()
		}
		return len(runs.Items) == 1 && runs.Items[0].UID == run.UID, fmt.Sprintf("%d runs", len(runs.Items))
	})
	e.finish(run, v1alpha1.AnalysisPhaseFailed)
	e.waitPhase("rsa", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	restartController(t)
	ro := e.waitPhase("rsa", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if !ro.Status.Abort || e.selector("rsa-active") != v1 {
		t.Fatalf("abort lost across a restart: abort %v, active %s", ro.Status.Abort, e.selector("rsa-active"))
	}
	e.eventually(20*time.Second, "v2 scaled down", func() (bool, string) {
		got := e.replicaSets("rsa")
		return got[v2] == [2]int32{0, 0} && got[v1] == [2]int32{2, 2}, fmt.Sprint(got)
	})
}

func TestInconclusiveAnalysisPausesUntilPromoted(t *testing.T) {
	e := newEnv(t)
	e.analysisSetup("inc", true, false)
	v2 := e.waitPhase("inc", v1alpha1.RolloutPhaseProgressing, 30*time.Second).Status.CurrentPodHash
	e.finish(e.run("inc-"+v2+"-pre"), v1alpha1.AnalysisPhaseInconclusive)
	ro := e.waitPhase("inc", v1alpha1.RolloutPhasePaused, 30*time.Second)
	if len(ro.Status.PauseConditions) != 1 || ro.Status.PauseConditions[0].Reason != v1alpha1.PauseReasonInconclusiveAnalysis {
		t.Fatalf("pause conditions %+v", ro.Status.PauseConditions)
	}
	if want := []string{"inc-" + v2 + "-pre"}; !slices.Equal(ro.Status.PausedOnRuns, want) {
		t.Fatalf("pausedOnRuns %v, want %v (written with the pause condition)", ro.Status.PausedOnRuns, want)
	}
	// The pause survives a restart of the controller.
	restartController(t)
	if ro := e.waitPhase("inc", v1alpha1.RolloutPhasePaused, 30*time.Second); e.selector("inc-active") == v2 {
		t.Fatalf("switched while paused: %+v", ro.Status)
	}
	// A person looks, and promotes.
	e.patchStatus("inc", func(s *v1alpha1.RolloutStatus) { s.PauseConditions = nil })
	ro = e.waitPhase("inc", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v2 || e.selector("inc-active") != v2 {
		t.Fatalf("not promoted past the inconclusive run: %+v", ro.Status)
	}
}

// A blue/green rollback to a revision within rollbackWindow switches at
// once: no pre- or post-promotion analysis, no pause.
func TestBlueGreenRollbackWindowSkipsAnalysisAndPause(t *testing.T) {
	e := newEnv(t)
	e.template("rate")
	e.service("rbw-active", "rbw")
	e.service("rbw-preview", "rbw")
	ro := analysisRollout("rbw", true, true)
	ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = ptr.To(false)
	ro.Spec.RollbackWindow = &v1alpha1.RollbackWindowSpec{Revisions: 1}
	e.create(ro)
	v1 := e.waitPhase("rbw", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS

	e.setImage("rbw", "example/rbw:2")
	e.eventually(30*time.Second, "the new version", func() (bool, string) {
		ro = e.rollout("rbw")
		return ro.Status.CurrentPodHash != v1, ro.Status.CurrentPodHash
	})
	v2 := ro.Status.CurrentPodHash
	e.finish(e.run("rbw-"+v2+"-pre"), v1alpha1.AnalysisPhaseSuccessful)
	e.waitPhase("rbw", v1alpha1.RolloutPhasePaused, 30*time.Second)
	e.promote("rbw")
	e.finish(e.run("rbw-"+v2+"-post"), v1alpha1.AnalysisPhaseSuccessful)
	e.waitPhase("rbw", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.eventually(30*time.Second, "v1 scaled down", func() (bool, string) {
		got := e.replicaSets("rbw")
		return got[v1] == [2]int32{0, 0}, fmt.Sprint(got)
	})
	paused := strings.Count(strings.Join(e.events("rbw"), ","), v1alpha1.ReasonRolloutPaused)

	e.setImage("rbw", "example/rbw:1")
	ro = e.waitPhase("rbw", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v1 || e.selector("rbw-active") != v1 {
		t.Fatalf("not rolled back to %s: stable %s, active %s", v1, ro.Status.StableRS, e.selector("rbw-active"))
	}
	var runs v1alpha1.AnalysisRunList
	if err := cl.List(e.ctx, &runs, client.InNamespace(e.ns)); err != nil || len(runs.Items) != 2 {
		t.Errorf("AnalysisRuns %d (%v): want only the update's two", len(runs.Items), err)
	}
	if got := strings.Count(strings.Join(e.events("rbw"), ","), v1alpha1.ReasonRolloutPaused); got != paused {
		t.Errorf("the rollback paused: %v", e.events("rbw"))
	}
}

// TestRunHistoryLimitsDeleteOldRuns: finished runs of earlier releases
// beyond successfulRunHistoryLimit and unsuccessfulRunHistoryLimit are
// deleted, newest kept; the current release's are never touched.
func TestRunHistoryLimitsDeleteOldRuns(t *testing.T) {
	e := newEnv(t)
	e.template("rate")
	e.service("hist-active", "hist")
	e.service("hist-preview", "hist")
	ro := analysisRollout("hist", true, false)
	ro.Spec.Analysis = &v1alpha1.AnalysisRunStrategy{SuccessfulRunHistoryLimit: ptr.To[int32](1), UnsuccessfulRunHistoryLimit: ptr.To[int32](0)}
	e.create(ro)
	e.waitPhase("hist", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	exists := func(name string) bool {
		return cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, &v1alpha1.AnalysisRun{}) == nil
	}
	release := func(image string) string {
		e.setImage("hist", "example/hist:"+image)
		var hash string
		e.eventually(30*time.Second, "release "+image+" progressing", func() (bool, string) {
			got := e.rollout("hist")
			hash = got.Status.CurrentPodHash
			return got.Status.Phase == v1alpha1.RolloutPhaseProgressing && fmt.Sprint(got.Generation) == got.Status.ObservedGeneration, string(got.Status.Phase)
		})
		return "hist-" + hash + "-pre"
	}
	v2 := release("2")
	e.finish(e.run(v2), v1alpha1.AnalysisPhaseSuccessful)
	e.waitPhase("hist", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	v3 := release("3")
	e.finish(e.run(v3), v1alpha1.AnalysisPhaseFailed)
	e.waitPhase("hist", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	// The failed run is the current release's: kept while it is.
	if !exists(v2) || !exists(v3) {
		t.Fatalf("runs deleted too early: %s %v, %s %v", v2, exists(v2), v3, exists(v3))
	}
	v4 := release("4")
	e.eventually(30*time.Second, "the failed run of an earlier release deleted (unsuccessfulRunHistoryLimit 0)", func() (bool, string) {
		return !exists(v3), v3
	})
	if !exists(v2) {
		t.Fatalf("%s, the only successful run of an earlier release, was deleted", v2)
	}
	e.finish(e.run(v4), v1alpha1.AnalysisPhaseSuccessful)
	e.waitPhase("hist", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	v5 := release("5")
	e.eventually(30*time.Second, "the older successful run deleted (successfulRunHistoryLimit 1)", func() (bool, string) {
		var runs v1alpha1.AnalysisRunList
		_ = cl.List(e.ctx, &runs, client.InNamespace(e.ns))
		var seen []string
		for _, r := range runs.Items {
			seen = append(seen, fmt.Sprintf("%s %s %s", r.Name, r.Status.Phase, r.CreationTimestamp))
		}
		return !exists(v2), fmt.Sprintf("%s; runs %v; status %+v", v2, seen, e.rollout("hist").Status.BlueGreen)
	})
	if !exists(v4) || !exists(v5) {
		t.Fatalf("kept runs deleted: %s %v, %s %v", v4, exists(v4), v5, exists(v5))
	}
}
