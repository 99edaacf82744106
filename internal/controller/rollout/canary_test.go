package rollout_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting/memory"
)

func canaryRollout(name string, replicas int32, c v1alpha1.CanaryStrategy) *v1alpha1.Rollout {
	ro := blueGreen(name, replicas, v1alpha1.BlueGreenStrategy{})
	ro.Spec.Strategy = v1alpha1.RolloutStrategy{Canary: &c}
	return ro
}

// routed is a traffic-routed canary strategy with the given steps; the
// tests' controller gives it the in-memory router.
func routed(name string, steps ...v1alpha1.CanaryStep) v1alpha1.CanaryStrategy {
	return v1alpha1.CanaryStrategy{
		CanaryService: name + "-canary", StableService: name + "-stable",
		TrafficRouting:        &v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{}},
		Steps:                 steps,
		ScaleDownDelaySeconds: ptr.To[int32](0),
	}
}

func weight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: ptr.To(w)} }

func pause() v1alpha1.CanaryStep { return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}} }

func pauseFor(d string) v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intstr.FromString(d))}}
}

func (e *env) router(name string) *memory.Router {
	return routers.For(types.NamespacedName{Namespace: e.ns, Name: name})
}

// promote does what `ramp promote` does: clear the pause, or else go to
// the next step.
func (e *env) promote(name string) {
	e.t.Helper()
	e.patchStatus(name, func(s *v1alpha1.RolloutStatus) {
		if len(s.PauseConditions) > 0 {
			s.PauseConditions = nil
			return
		}
		s.CurrentStepIndex = ptr.To(ptr.Deref(s.CurrentStepIndex, 0) + 1)
	})
}

// waitStep waits for the rollout to stand at step index (0-based), with its
// phase, and returns it.
func (e *env) waitStep(name string, index int32, phase v1alpha1.RolloutPhase) *v1alpha1.Rollout {
	e.t.Helper()
	var ro *v1alpha1.Rollout
	e.eventually(30*time.Second, fmt.Sprintf("%s at step %d, %s", name, index, phase), func() (bool, string) {
		ro = e.rollout(name)
		return ptr.Deref(ro.Status.CurrentStepIndex, -1) == index && ro.Status.Phase == phase && ro.Status.ObservedGeneration == fmt.Sprint(ro.Generation),
			fmt.Sprintf("step %d, %s: %s", ptr.Deref(ro.Status.CurrentStepIndex, -1), ro.Status.Phase, ro.Status.Message)
	})
	return ro
}

func (e *env) canaryServices(name string) {
	e.t.Helper()
	e.service(name+"-canary", name)
	e.service(name+"-stable", name)
}

// An eight-step canary, promoted pause by pause: at each pause the canary
// has the pods for its weight, the router has the weight, the stable
// version keeps every pod and its Service.
func TestCanaryEightStepsPromotedStepByStep(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("eight")
	e.create(canaryRollout("eight", 5, routed("eight", weight(10), pause(), weight(20), pause(), weight(40), pause(), weight(80), pause())))
	ro := e.waitPhase("eight", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	v1 := ro.Status.StableRS
	if ptr.Deref(ro.Status.CurrentStepIndex, -1) != 8 {
		t.Errorf("the first deploy skips the steps: index %v", ro.Status.CurrentStepIndex)
	}
	if e.selector("eight-stable") != v1 || e.selector("eight-canary") != v1 {
		t.Errorf("selectors stable=%s canary=%s, want %s", e.selector("eight-stable"), e.selector("eight-canary"), v1)
	}

	e.setImage("eight", "example/eight:2")
	for i, w := range []int32{10, 20, 40, 80} {
		step := int32(2*i + 1)
		ro := e.waitStep("eight", step, v1alpha1.RolloutPhasePaused)
		v2 := ro.Status.CurrentPodHash
		wantCanary := (5*w + 99) / 100
		if got := e.replicaSets("eight"); got[v1] != [2]int32{5, 5} || got[v2] != [2]int32{wantCanary, wantCanary} {
			t.Errorf("step %d: ReplicaSets %v, want v1 5/5 and v2 %d/%d", step, got, wantCanary, wantCanary)
		}
		if got := e.router("eight").Weight(); got != w {
			t.Errorf("step %d: router weight %d, want %d", step, got, w)
		}
		if e.selector("eight-stable") != v1 || e.selector("eight-canary") != v2 {
			t.Errorf("step %d: selectors stable=%s canary=%s", step, e.selector("eight-stable"), e.selector("eight-canary"))
		}
		if wt := ro.Status.Canary.Weights; wt == nil || wt.Canary.Weight != w || wt.Stable.Weight != 100-w || wt.Canary.PodTemplateHash != v2 || wt.Stable.PodTemplateHash != v1 {
			t.Errorf("step %d: status weights %+v", step, wt)
		}
		if want := fmt.Sprintf("step %d/8, paused until promoted", step); !strings.Contains(ro.Status.Message, want) {
			t.Errorf("step %d: message %q, want %q", step, ro.Status.Message, want)
		}
		e.promote("eight")
	}
	ro = e.waitPhase("eight", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	v2 := ro.Status.CurrentPodHash
	if ro.Status.StableRS != v2 || e.selector("eight-stable") != v2 || e.selector("eight-canary") != v2 {
		t.Fatalf("promoted: stable %s, selectors stable=%s canary=%s, want %s", ro.Status.StableRS, e.selector("eight-stable"), e.selector("eight-canary"), v2)
	}
	if got, want := e.router("eight").History(), []int32{0, 10, 20, 40, 80, 100, 0}; !slices.Equal(got, want) {
		t.Errorf("router weights %v, want %v", got, want)
	}
	e.eventually(20*time.Second, "v1 scaled down", func() (bool, string) {
		got := e.replicaSets("eight")
		return got[v1] == [2]int32{0, 0} && got[v2] == [2]int32{5, 5}, fmt.Sprint(got)
	})
	if d := ro.Status.Duration; d == nil || d.CompletionStatus != v1alpha1.CompletionPromoted {
		t.Errorf("duration %+v", d)
	}
	e.waitEvent("eight", v1alpha1.ReasonRolloutStepCompleted)
	e.waitEvent("eight", v1alpha1.ReasonTrafficWeightUpdated)
}

// Timed pauses resume by themselves; the message says how long is left. A
// basic canary (no router) approximates the weight with pods.
func TestCanaryTimedPausesResumeByThemselves(t *testing.T) {
	e := newEnv(t)
	e.create(canaryRollout("timed", 2, v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{weight(50), pauseFor("2s"), weight(100), pauseFor("1")}}))
	v1 := e.waitPhase("timed", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("timed", "example/timed:2")
	ro := e.waitStep("timed", 1, v1alpha1.RolloutPhasePaused)
	v2 := ro.Status.CurrentPodHash
	if !strings.Contains(ro.Status.Message, "step 1/4, pause 2s, ") || !strings.Contains(ro.Status.Message, "s left") {
		t.Errorf("message %q", ro.Status.Message)
	}
	if got := e.replicaSets("timed"); got[v1] != [2]int32{1, 1} || got[v2] != [2]int32{1, 1} {
		t.Errorf("at 50%%: ReplicaSets %v, want one pod each", got)
	}
	ro = e.waitPhase("timed", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v2 {
		t.Fatalf("not promoted: %+v", ro.Status)
	}
	if got := e.replicaSets("timed"); got[v1] != [2]int32{0, 0} || got[v2] != [2]int32{2, 2} {
		t.Errorf("after: ReplicaSets %v", got)
	}
	e.waitEvent("timed", v1alpha1.ReasonRolloutResumed)
}

func TestCanaryPromoteFullSkipsTheRest(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("full")
	c := routed("full", weight(20), pause(), weight(50), pause())
	c.ScaleDownDelaySeconds = ptr.To[int32](5)
	e.create(canaryRollout("full", 2, c))
	v1 := e.waitPhase("full", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("full", "example/full:2")
	v2 := e.waitStep("full", 1, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash
	e.patchStatus("full", func(s *v1alpha1.RolloutStatus) { s.PromoteFull = true })
	ro := e.waitPhase("full", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v2 || ro.Status.Duration == nil || ro.Status.Duration.CompletionStatus != v1alpha1.CompletionFastPromoted {
		t.Fatalf("after promote-full: %+v", ro.Status)
	}
	if got := e.router("full").History(); slices.Contains(got, 50) {
		t.Errorf("the skipped step's weight was set: %v", got)
	}
	// The old version waits out scaleDownDelaySeconds, then goes.
	if rs := e.replicaSet("full", v1); rs.Annotations[v1alpha1.ScaleDownDeadlineAnnotationKey] == "" || *rs.Spec.Replicas != 2 {
		t.Errorf("v1 right after promotion: %d replicas, annotations %v", *rs.Spec.Replicas, rs.Annotations)
	}
	e.eventually(20*time.Second, "v1 scaled down after the delay", func() (bool, string) {
		got := e.replicaSets("full")
		return got[v1] == [2]int32{0, 0}, fmt.Sprint(got)
	})
}

// Abort from a step: the weight goes back to 0 first, the canary goes after
// abortScaleDownDelaySeconds, the stable Service never changes; a retry
// starts from the first step.
func TestCanaryAbortFromAStepThenRetry(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("ab")
	c := routed("ab", weight(20), pause(), weight(40), pause())
	c.AbortScaleDownDelaySeconds = ptr.To[int32](1)
	e.create(canaryRollout("ab", 4, c))
	v1 := e.waitPhase("ab", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("ab", "example/ab:2")
	e.waitStep("ab", 1, v1alpha1.RolloutPhasePaused)
	e.promote("ab")
	v2 := e.waitStep("ab", 3, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash

	e.patchStatus("ab", func(s *v1alpha1.RolloutStatus) { s.Abort = true })
	ro := e.waitPhase("ab", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if !strings.Contains(ro.Status.Message, "RolloutAborted") {
		t.Errorf("message %q", ro.Status.Message)
	}
	e.eventually(20*time.Second, "weight 0, then the canary scaled down", func() (bool, string) {
		got := e.replicaSets("ab")
		return e.router("ab").Weight() == 0 && got[v2] == [2]int32{0, 0} && got[v1] == [2]int32{4, 4}, fmt.Sprint(got, " weight ", e.router("ab").Weight())
	})
	if e.selector("ab-stable") != v1 {
		t.Errorf("the stable Service moved: %s", e.selector("ab-stable"))
	}
	e.waitEvent("ab", v1alpha1.ReasonRolloutAborted)

	e.patchStatus("ab", func(s *v1alpha1.RolloutStatus) { s.Abort = false })
	e.waitStep("ab", 1, v1alpha1.RolloutPhasePaused)
	if got := e.router("ab").Weight(); got != 20 {
		t.Errorf("after retry: weight %d, want the first step's 20", got)
	}
	if got := e.replicaSets("ab"); got[v2] != [2]int32{1, 1} {
		t.Errorf("after retry: ReplicaSets %v", got)
	}
	e.waitEvent("ab", v1alpha1.ReasonRolloutRetry)
}

func stepAnalysis() v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "rate"}},
		Args:      []v1alpha1.AnalysisRunArgument{{Name: "hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: ptr.To(v1alpha1.Latest)}}},
	}}
}

func TestCanaryInlineAnalysisSuccessAndFailure(t *testing.T) {
	for _, phase := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed} {
		t.Run(string(phase), func(t *testing.T) {
			e := newEnv(t)
			e.template("rate")
			e.canaryServices("inl")
			e.create(canaryRollout("inl", 2, routed("inl", weight(50), stepAnalysis(), pause())))
			v1 := e.waitPhase("inl", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
			e.setImage("inl", "example/inl:2")
			ro := e.waitStep("inl", 1, v1alpha1.RolloutPhaseProgressing)
			v2 := ro.Status.CurrentPodHash
			run := e.run("inl-" + v2 + "-step1")
			if run.Labels[v1alpha1.RolloutTypeLabel] != v1alpha1.RolloutTypeStepLabel {
				t.Errorf("run labels %v", run.Labels)
			}
			e.eventually(10*time.Second, "the run in the status", func() (bool, string) {
				st := e.rollout("inl").Status.Canary.CurrentStepAnalysisRunStatus
				return st != nil && st.Name == run.Name, fmt.Sprintf("%+v", st)
			})
			e.finish(run, phase)
			if phase == v1alpha1.AnalysisPhaseSuccessful {
				e.waitStep("inl", 2, v1alpha1.RolloutPhasePaused)
				return
			}
			ro = e.waitPhase("inl", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
			if !strings.Contains(ro.Status.Message, "AnalysisRun "+run.Name+" is Failed") {
				t.Errorf("message %q", ro.Status.Message)
			}
			e.eventually(20*time.Second, "traffic back to stable", func() (bool, string) {
				return e.router("inl").Weight() == 0 && e.selector("inl-stable") == v1, fmt.Sprint(e.router("inl").Weight())
			})
			e.waitEvent("inl", v1alpha1.ReasonAnalysisRunFailed)
		})
	}
}

// A background analysis from step 2 fails while the rollout is at step 4:
// the rollout aborts.
func TestCanaryBackgroundAnalysisFailingAtStep4(t *testing.T) {
	e := newEnv(t)
	e.template("rate")
	e.canaryServices("bga")
	c := routed("bga", weight(10), pause(), weight(20), pause(), weight(40), pause())
	c.Analysis = &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: *stepAnalysis().Analysis, StartingStep: ptr.To[int32](2)}
	e.create(canaryRollout("bga", 2, c))
	e.waitPhase("bga", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("bga", "example/bga:2")
	v2 := e.waitStep("bga", 1, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash
	name := "bga-" + v2 + "-background"
	if err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, &v1alpha1.AnalysisRun{}); err == nil {
		t.Fatal("the background run started before its starting step")
	}
	e.promote("bga")
	run := e.run(name)
	if run.Labels[v1alpha1.RolloutTypeLabel] != v1alpha1.RolloutTypeBackgroundRunLabel {
		t.Errorf("run labels %v", run.Labels)
	}
	e.waitStep("bga", 3, v1alpha1.RolloutPhasePaused)
	e.finish(run, v1alpha1.AnalysisPhaseFailed)
	ro := e.waitPhase("bga", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if !strings.Contains(ro.Status.Message, name+" is Failed") || ptr.Deref(ro.Status.CurrentStepIndex, -1) != 3 {
		t.Errorf("status %s at step %v", ro.Status.Message, ro.Status.CurrentStepIndex)
	}
	e.eventually(20*time.Second, "weight 0", func() (bool, string) { return e.router("bga").Weight() == 0, fmt.Sprint(e.router("bga").Weight()) })
}

func TestCanaryInconclusiveRunPauses(t *testing.T) {
	e := newEnv(t)
	e.template("rate")
	e.canaryServices("inc")
	e.create(canaryRollout("inc", 1, routed("inc", weight(50), stepAnalysis(), weight(70))))
	e.waitPhase("inc", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("inc", "example/inc:2")
	v2 := e.waitStep("inc", 1, v1alpha1.RolloutPhaseProgressing).Status.CurrentPodHash
	e.finish(e.run("inc-"+v2+"-step1"), v1alpha1.AnalysisPhaseInconclusive)
	ro := e.waitStep("inc", 1, v1alpha1.RolloutPhasePaused)
	if len(ro.Status.PauseConditions) != 1 || ro.Status.PauseConditions[0].Reason != v1alpha1.PauseReasonInconclusiveAnalysis {
		t.Fatalf("pause conditions %+v", ro.Status.PauseConditions)
	}
	e.promote("inc")
	e.waitPhase("inc", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
}

// v1 to v2 to v3 in the middle of a canary: the intermediate v2 keeps its
// pods while the canary Service (and so the router's canary weight) still
// sends it requests, and v3 starts from the first step.
func TestCanaryUpdateInTheMiddleOfARollout(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("mid")
	e.create(canaryRollout("mid", 4, routed("mid", weight(25), pause(), weight(50), pause())))
	v1 := e.waitPhase("mid", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("mid", "example/mid:2")
	e.waitStep("mid", 1, v1alpha1.RolloutPhasePaused)
	e.promote("mid")
	v2 := e.waitStep("mid", 3, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash

	e.setImage("mid", "example/mid:3")
	var v3 string
	violations := 0
	e.eventually(30*time.Second, "v3 at its first pause, v2 gone", func() (bool, string) {
		ro := e.rollout("mid")
		v3 = ro.Status.CurrentPodHash
		got := e.replicaSets("mid")
		sel := e.selector("mid-canary")
		if sel == v2 && got[v2][0] < 2 && e.router("mid").Weight() > 0 {
			violations++ // v2 shrinking while it takes canary traffic
		}
		return v3 != v2 && ptr.Deref(ro.Status.CurrentStepIndex, -1) == 1 && ro.Status.Phase == v1alpha1.RolloutPhasePaused &&
				got[v2] == [2]int32{0, 0} && got[v3] == [2]int32{1, 1} && got[v1] == [2]int32{4, 4} && sel == v3,
			fmt.Sprint(got, " canary selects ", sel, " weight ", e.router("mid").Weight(), " ", ro.Status.Message)
	})
	if violations > 0 {
		t.Errorf("v2 was scaled down %d times while the canary Service sent it traffic", violations)
	}
	if got := e.router("mid").Weight(); got != 25 {
		t.Errorf("v3 at its first step: weight %d, want 25", got)
	}
	if e.selector("mid-stable") != v1 {
		t.Errorf("stable Service moved to %s", e.selector("mid-stable"))
	}
}

func TestCanarySetCanaryScale(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("scl")
	e.create(canaryRollout("scl", 10, routed("scl",
		v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr.To[int32](3)}}, weight(10), pause(),
		v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{MatchTrafficWeight: true}}, pause())))
	v1 := e.waitPhase("scl", v1alpha1.RolloutPhaseHealthy, 60*time.Second).Status.StableRS
	e.setImage("scl", "example/scl:2")
	v2 := e.waitStep("scl", 2, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash
	if got := e.replicaSets("scl"); got[v2] != [2]int32{3, 3} || got[v1] != [2]int32{10, 10} || e.router("scl").Weight() != 10 {
		t.Errorf("setCanaryScale 3 at weight 10: %v, weight %d", got, e.router("scl").Weight())
	}
	e.promote("scl")
	e.waitStep("scl", 4, v1alpha1.RolloutPhasePaused)
	// Scaling down does not wait for pods to go: the ReplicaSet's status
	// follows its spec.
	if got := e.replicaSets("scl"); got[v2][0] != 1 {
		t.Errorf("matchTrafficWeight at 10%% of 10: %v, want 1 canary pod", got)
	}
	e.eventually(30*time.Second, "the canary down to 1 pod", func() (bool, string) {
		got := e.replicaSets("scl")
		return got[v2] == [2]int32{1, 1}, fmt.Sprint(got)
	})
}

func TestCanaryDynamicStableScale(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("dyn")
	c := routed("dyn", weight(50), pause())
	c.DynamicStableScale = true
	c.AbortScaleDownDelaySeconds = ptr.To[int32](0)
	e.create(canaryRollout("dyn", 4, c))
	v1 := e.waitPhase("dyn", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("dyn", "example/dyn:2")
	v2 := e.waitStep("dyn", 1, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash
	e.eventually(20*time.Second, "stable shrunk to its share", func() (bool, string) {
		got := e.replicaSets("dyn")
		return got[v1] == [2]int32{2, 2} && got[v2] == [2]int32{2, 2}, fmt.Sprint(got)
	})
	// Abort: the stable version grows back before it takes the traffic.
	e.patchStatus("dyn", func(s *v1alpha1.RolloutStatus) { s.Abort = true })
	e.eventually(20*time.Second, "stable back to full, weight 0", func() (bool, string) {
		got := e.replicaSets("dyn")
		return got[v1] == [2]int32{4, 4} && e.router("dyn").Weight() == 0, fmt.Sprint(got, e.router("dyn").Weight())
	})
}

// Without steps a canary is a rolling update within maxSurge and
// maxUnavailable.
func TestCanaryWithoutStepsIsARollingUpdate(t *testing.T) {
	e := newEnv(t)
	e.create(canaryRollout("roll", 4, v1alpha1.CanaryStrategy{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}))
	v1 := e.waitPhase("roll", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("roll", "example/roll:2")
	var v2 string
	most := int32(0)
	e.eventually(60*time.Second, "v2 at 4, v1 at 0", func() (bool, string) {
		ro := e.rollout("roll")
		v2 = ro.Status.CurrentPodHash
		got := e.replicaSets("roll")
		if v2 != v1 {
			most = max(most, got[v1][0]+got[v2][0])
		}
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == v2 && got[v2] == [2]int32{4, 4} && got[v1] == [2]int32{0, 0}, fmt.Sprint(got)
	})
	if most > 5 {
		t.Errorf("%d pods desired at once; maxSurge 1 allows 5", most)
	}
}

func TestCanaryWithOneReplica(t *testing.T) {
	e := newEnv(t)
	e.create(canaryRollout("one", 1, v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{weight(20), pause()}}))
	v1 := e.waitPhase("one", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("one", "example/one:2")
	v2 := e.waitStep("one", 1, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash
	if got := e.replicaSets("one"); got[v1] != [2]int32{1, 1} || got[v2] != [2]int32{1, 1} {
		t.Errorf("one replica at 20%%: %v, want a canary pod beside the stable one", got)
	}
	e.promote("one")
	ro := e.waitPhase("one", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if got := e.replicaSets("one"); got[v2] != [2]int32{1, 1} || got[v1] != [2]int32{0, 0} || ro.Status.StableRS != v2 {
		t.Errorf("after: %v", got)
	}
}

// An HPA resizes the rollout mid-canary through the scale subresource: both
// sides follow the new size, and the HPA is told the rollout's size without
// the canary's extra pods, so it does not grow the stable version by them.
func TestCanaryHPAResizesMidRollout(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("hpa")
	e.create(canaryRollout("hpa", 4, routed("hpa", weight(25), pause())))
	v1 := e.waitPhase("hpa", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("hpa", "example/hpa:2")
	v2 := e.waitStep("hpa", 1, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash
	e.eventually(10*time.Second, "HPAReplicas 4 with 5 pods", func() (bool, string) {
		st := e.rollout("hpa").Status
		return st.HPAReplicas == 4 && st.Replicas == 5, fmt.Sprintf("HPAReplicas %d, replicas %d", st.HPAReplicas, st.Replicas)
	})
	e.scaleTo("hpa", 8)
	e.eventually(30*time.Second, "resized to 8", func() (bool, string) {
		got := e.replicaSets("hpa")
		st := e.rollout("hpa").Status
		return got[v1] == [2]int32{8, 8} && got[v2] == [2]int32{2, 2} && st.HPAReplicas == 8, fmt.Sprint(got, " HPAReplicas ", st.HPAReplicas)
	})
	e.promote("hpa")
	e.eventually(30*time.Second, "promoted at 8", func() (bool, string) {
		got := e.replicaSets("hpa")
		return got[v2] == [2]int32{8, 8} && e.rollout("hpa").Status.Phase == v1alpha1.RolloutPhaseHealthy, fmt.Sprint(got)
	})
}

// Header and mirror routes go to routers that can do them, and are removed
// at the end of the update.
func TestCanaryHeaderAndMirrorRoutes(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("hdr")
	c := routed("hdr", weight(10),
		v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x-beta", HeaderValue: &v1alpha1.StringMatch{Exact: "1"}}}}},
		v1alpha1.CanaryStep{SetMirrorRoute: &v1alpha1.SetMirrorRoute{Name: "shadow", Percentage: ptr.To[int32](50), Match: []v1alpha1.RouteMatch{{Method: &v1alpha1.StringMatch{Exact: "GET"}}}}},
		pause())
	c.TrafficRouting = &v1alpha1.RolloutTrafficRouting{
		Istio:         &v1alpha1.IstioTrafficRouting{VirtualService: &v1alpha1.IstioVirtualService{Name: "hdr"}},
		ManagedRoutes: []v1alpha1.MangedRoutes{{Name: "beta"}, {Name: "shadow"}},
	}
	e.create(canaryRollout("hdr", 2, c))
	e.waitPhase("hdr", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("hdr", "example/hdr:2")
	e.waitStep("hdr", 3, v1alpha1.RolloutPhasePaused)
	if h, m := e.router("hdr").Routes(); !slices.Equal(h, []string{"beta"}) || !slices.Equal(m, []string{"shadow"}) {
		t.Errorf("routes %v %v", h, m)
	}
	e.promote("hdr")
	e.waitPhase("hdr", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if h, m := e.router("hdr").Routes(); len(h)+len(m) != 0 {
		t.Errorf("routes left after the update: %v %v", h, m)
	}
}

// Steps that combine actions, as Argo's examples do: the canary scale and
// a header route with the weight, a mirror route with a pause. At the
// pause, everything the steps set is in place, and the step's event names
// it as a whole.
func TestCanaryStepsCombineActions(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("mix")
	header := &v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x-beta", HeaderValue: &v1alpha1.StringMatch{Exact: "1"}}}}
	mirror := &v1alpha1.SetMirrorRoute{Name: "shadow", Percentage: ptr.To[int32](50), Match: []v1alpha1.RouteMatch{{Method: &v1alpha1.StringMatch{Exact: "GET"}}}}
	c := routed("mix",
		v1alpha1.CanaryStep{SetWeight: ptr.To[int32](30), SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr.To[int32](1)}, SetHeaderRoute: header},
		v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}, SetMirrorRoute: mirror})
	c.TrafficRouting = &v1alpha1.RolloutTrafficRouting{
		Istio:         &v1alpha1.IstioTrafficRouting{VirtualService: &v1alpha1.IstioVirtualService{Name: "mix"}},
		ManagedRoutes: []v1alpha1.MangedRoutes{{Name: "beta"}, {Name: "shadow"}},
	}
	e.create(canaryRollout("mix", 4, c))
	e.waitPhase("mix", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("mix", "example/mix:2")
	ro := e.waitStep("mix", 1, v1alpha1.RolloutPhasePaused)
	h, m := e.router("mix").Routes()
	if w := e.router("mix").Weight(); w != 30 || !slices.Equal(h, []string{"beta"}) || !slices.Equal(m, []string{"shadow"}) {
		t.Errorf("at the pause: weight %d, routes %v %v; want 30, [beta] [shadow]", w, h, m)
	}
	if sizes := e.replicaSets("mix"); sizes[ro.Status.CurrentPodHash][0] != 1 {
		t.Errorf("canary ReplicaSet sized %d; want 1 (setCanaryScale)", sizes[ro.Status.CurrentPodHash][0])
	}
	want := "Rollout step completed (setWeight 30, setCanaryScale 1 replicas, setHeaderRoute beta): now at step 1/2"
	if notes := e.eventNotes("mix"); !slices.Contains(notes, want) {
		t.Errorf("events %q; want %q", notes, want)
	}
	e.promote("mix")
	e.waitPhase("mix", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if h, m := e.router("mix").Routes(); len(h)+len(m) != 0 {
		t.Errorf("routes left after the update: %v %v", h, m)
	}
}

// The step waits until the router confirms the weight.
func TestCanaryWaitsForTheWeightToBeVerified(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("ver")
	e.create(canaryRollout("ver", 2, routed("ver", weight(50), pause())))
	e.waitPhase("ver", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.router("ver").SetVerified(false)
	e.setImage("ver", "example/ver:2")
	e.eventually(20*time.Second, "weight set, not verified", func() (bool, string) {
		ro := e.rollout("ver")
		w := ro.Status.Canary.Weights
		return w != nil && w.Canary.Weight == 50 && w.Verified != nil && !*w.Verified && ptr.Deref(ro.Status.CurrentStepIndex, -1) == 0, fmt.Sprintf("%+v", w)
	})
	e.router("ver").SetVerified(true)
	ro := e.waitStep("ver", 1, v1alpha1.RolloutPhasePaused)
	if w := ro.Status.Canary.Weights; w.Verified == nil || !*w.Verified {
		t.Errorf("weights %+v", w)
	}
}

// A rollback to a revision within rollbackWindow skips the steps.
func TestCanaryRollbackWindowFastTracks(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("win")
	ro := canaryRollout("win", 2, routed("win", weight(50), pause()))
	ro.Spec.RollbackWindow = &v1alpha1.RollbackWindowSpec{Revisions: 2}
	e.create(ro)
	v1 := e.waitPhase("win", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("win", "example/win:2")
	e.waitStep("win", 1, v1alpha1.RolloutPhasePaused)
	e.promote("win")
	e.waitPhase("win", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("win", "example/win:1")
	got := e.waitPhase("win", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if got.Status.StableRS != v1 {
		t.Fatalf("not rolled back: %+v", got.Status)
	}
	if slices.Contains(e.events("win"), v1alpha1.ReasonRolloutPaused) && strings.Count(strings.Join(e.events("win"), ","), v1alpha1.ReasonRolloutPaused) > 1 {
		t.Errorf("the rollback paused: %v", e.events("win"))
	}
}

// The controller is killed and restarted at every step of a canary: the
// rollout carries on where it was, with one ReplicaSet per template, one run
// per analysis step, and the router's weight never going backwards.
func TestCanaryControllerRestartAtEveryStep(t *testing.T) {
	e := newEnv(t)
	e.template("rate")
	e.canaryServices("rs")
	steps := []v1alpha1.CanaryStep{weight(20), pause(), stepAnalysis(), weight(60), pauseFor("1s"), weight(80), pause()}
	e.create(canaryRollout("rs", 2, routed("rs", steps...)))
	v1 := e.waitPhase("rs", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("rs", "example/rs:2")
	var v2 string
	for i := range int32(len(steps)) {
		e.eventually(30*time.Second, fmt.Sprintf("step %d reached", i), func() (bool, string) {
			ro := e.rollout("rs")
			v2 = ro.Status.CurrentPodHash
			return v2 != v1 && ptr.Deref(ro.Status.CurrentStepIndex, -1) >= i, fmt.Sprint(ro.Status.CurrentStepIndex, " ", ro.Status.Message)
		})
		restartController(t)
		if ptr.Deref(e.rollout("rs").Status.CurrentStepIndex, -1) != i {
			continue
		}
		switch {
		case steps[i].Pause != nil && steps[i].Pause.Duration == nil:
			e.waitStep("rs", i, v1alpha1.RolloutPhasePaused)
			e.promote("rs")
		case steps[i].Analysis != nil:
			e.finish(e.run(fmt.Sprintf("rs-%s-step%d", v2, i)), v1alpha1.AnalysisPhaseSuccessful)
		}
	}
	ro := e.waitPhase("rs", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v2 {
		t.Fatalf("not promoted: %+v", ro.Status)
	}
	if got := e.replicaSets("rs"); len(got) != 2 {
		t.Errorf("ReplicaSets %v: want one per template", got)
	}
	if got, want := e.router("rs").History(), []int32{0, 20, 60, 80, 100, 0}; !slices.Equal(got, want) {
		t.Errorf("router weights %v, want %v", got, want)
	}
	var runs v1alpha1.AnalysisRunList
	if err := cl.List(e.ctx, &runs, client.InNamespace(e.ns)); err != nil || len(runs.Items) != 1 {
		t.Errorf("AnalysisRuns: %d, %v; want the one of the analysis step", len(runs.Items), err)
	}
}

// canaryWritesPerStep runs an eight-step canary from update to promotion
// and returns the controller's API writes (status, ReplicaSets, Services,
// events) per step transition.
func canaryWritesPerStep(tb testing.TB) float64 {
	e := newEnv(tb)
	e.canaryServices("wps")
	steps := []v1alpha1.CanaryStep{weight(10), pause(), weight(20), pause(), weight(40), pause(), weight(80), pause()}
	e.create(canaryRollout("wps", 4, routed("wps", steps...)))
	e.waitPhase("wps", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	before := writes.Count(e.ns)
	e.setImage("wps", "example/wps:2")
	for i := int32(1); i < int32(len(steps)); i += 2 {
		e.waitStep("wps", i, v1alpha1.RolloutPhasePaused)
		e.promote("wps")
	}
	e.waitPhase("wps", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	return float64(writes.Count(e.ns)-before) / float64(len(steps))
}

// A step transition makes a bounded number of writes.
func TestCanaryStepWritesAreBounded(t *testing.T) {
	if got := canaryWritesPerStep(t); got > 12 {
		t.Errorf("%.1f API writes per step transition; want at most 12 (about 7 measured: status, ReplicaSet sizes, events)", got)
	}
}

// BenchmarkCanaryWritesPerStep reports the controller's API writes per step
// transition of an eight-step traffic-routed canary (writes/step).
func BenchmarkCanaryWritesPerStep(b *testing.B) {
	var total float64
	for i := 0; i < b.N; i++ {
		total += canaryWritesPerStep(b)
	}
	b.ReportMetric(total/float64(b.N), "writes/step")
}

// canaryMetadata and stableMetadata follow the role: the canary's pods lose
// theirs and take the stable labels when they are promoted.
func TestCanaryAndStableMetadataFollowTheRole(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("cmd")
	c := routed("cmd", weight(50), pause())
	c.CanaryMetadata = &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "canary"}}
	c.StableMetadata = &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "stable"}}
	e.create(canaryRollout("cmd", 2, c))
	v1 := e.waitPhase("cmd", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	roles := func() map[string]string {
		pods, err := kube.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: "app=cmd"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				out[p.Labels["rollouts-pod-template-hash"]] += p.Labels["role"] + ";"
			}
		}
		return out
	}
	e.setImage("cmd", "example/cmd:2")
	v2 := e.waitStep("cmd", 1, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash
	e.eventually(20*time.Second, "roles during the canary", func() (bool, string) {
		r := roles()
		return r[v1] == "stable;stable;" && r[v2] == "canary;", fmt.Sprint(r)
	})
	e.promote("cmd")
	e.eventually(30*time.Second, "v2 stable", func() (bool, string) {
		r := roles()
		return r[v2] == "stable;stable;", fmt.Sprint(r)
	})
}

// With maxTrafficWeight 1000 a step's weight is out of 1000, and so are the
// canary's pods.
func TestCanaryMaxTrafficWeight(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("mtw")
	c := routed("mtw", weight(250), pause())
	c.TrafficRouting = &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "mtw"}, MaxTrafficWeight: ptr.To[int32](1000)}
	e.create(canaryRollout("mtw", 4, c))
	e.waitPhase("mtw", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("mtw", "example/mtw:2")
	ro := e.waitStep("mtw", 1, v1alpha1.RolloutPhasePaused)
	if w := ro.Status.Canary.Weights; w == nil || w.Canary.Weight != 250 || w.Stable.Weight != 750 || e.router("mtw").Weight() != 250 {
		t.Errorf("weights %+v, router %d", w, e.router("mtw").Weight())
	}
	if got := e.replicaSets("mtw"); got[ro.Status.CurrentPodHash] != [2]int32{1, 1} {
		t.Errorf("ReplicaSets %v: 250/1000 of 4 is one canary pod", got)
	}
}

// promote on a step that is not a pause skips it (here, an analysis that
// would never finish); the status message names the step while it runs.
func TestCanaryPromoteSkipsARunningStep(t *testing.T) {
	e := newEnv(t)
	e.template("rate")
	e.canaryServices("skip")
	e.create(canaryRollout("skip", 2, routed("skip", weight(50), stepAnalysis(), pause())))
	e.waitPhase("skip", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("skip", "example/skip:2")
	ro := e.waitStep("skip", 1, v1alpha1.RolloutPhaseProgressing)
	if !strings.Contains(ro.Status.Message, "step 1/3: analysis") {
		t.Errorf("message %q", ro.Status.Message)
	}
	e.run("skip-" + ro.Status.CurrentPodHash + "-step1")
	e.promote("skip")
	e.waitStep("skip", 2, v1alpha1.RolloutPhasePaused)
}

// The progress deadline times pods that do not come up, not an analysis
// that takes its time: a step waiting on a run past the deadline is neither
// Degraded nor aborted.
func TestCanaryLongAnalysisIsNotAProgressDeadline(t *testing.T) {
	e := newEnv(t)
	e.template("rate")
	e.canaryServices("long")
	e.create(canaryRollout("long", 1, routed("long", weight(50), stepAnalysis())))
	e.waitPhase("long", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	e.setImage("long", "example/long:2")
	v2 := e.waitStep("long", 1, v1alpha1.RolloutPhaseProgressing).Status.CurrentPodHash
	// Once the pods are up and the analysis runs, a one-second deadline
	// (with abort) comes into force.
	ro := e.rollout("long")
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.ProgressDeadlineSeconds = ptr.To[int32](1)
	ro.Spec.ProgressDeadlineAbort = true
	if err := cl.Patch(e.ctx, ro, patch); err != nil {
		t.Fatal(err)
	}
	e.waitStep("long", 1, v1alpha1.RolloutPhaseProgressing)
	start := time.Now()
	e.eventually(10*time.Second, "three deadlines passed while the analysis runs", func() (bool, string) {
		if got := e.rollout("long").Status; got.Phase == v1alpha1.RolloutPhaseDegraded || got.Abort {
			t.Fatalf("the analysis timed out as a progress deadline: %s", got.Message)
		}
		return time.Since(start) > 3*time.Second, ""
	})
	e.finish(e.run("long-"+v2+"-step1"), v1alpha1.AnalysisPhaseSuccessful)
	e.waitPhase("long", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
}

// Old ReplicaSets beyond revisionHistoryLimit are deleted, oldest first;
// the stable one and the newest old one stay.
func TestRevisionHistoryLimitDeletesTheOldestReplicaSets(t *testing.T) {
	e := newEnv(t)
	ro := canaryRollout("hist", 1, v1alpha1.CanaryStrategy{})
	ro.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	e.create(ro)
	e.waitPhase("hist", v1alpha1.RolloutPhaseHealthy, time.Minute)
	var hashes []string
	for i := 2; i <= 4; i++ {
		e.setImage("hist", fmt.Sprintf("example/hist:%d", i))
		hashes = append(hashes, e.waitPhase("hist", v1alpha1.RolloutPhaseHealthy, time.Minute).Status.StableRS)
	}
	e.eventually(30*time.Second, "one old ReplicaSet kept beside the stable one", func() (bool, string) {
		rss := e.replicaSets("hist")
		_, stable := rss[hashes[2]]
		_, previous := rss[hashes[1]]
		return len(rss) == 2 && stable && previous, fmt.Sprint(rss)
	})
}
