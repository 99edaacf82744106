package rollout_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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
		if want := fmt.Sprintf("step %d/8, paused until promoted", step+1); !strings.Contains(ro.Status.Message, want) {
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
	if !strings.Contains(ro.Status.Message, "step 2/4, pause 2s, ") || !strings.Contains(ro.Status.Message, "s left") {
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
	e.create(canaryRollout("full", 2, routed("full", weight(20), pause(), weight(50), pause())))
	e.waitPhase("full", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
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
	ro = e.waitStep("ab", 1, v1alpha1.RolloutPhasePaused)
	if got := e.router("ab").Weight(); got != 20 {
		t.Errorf("after retry: weight %d, want the first step's 20", got)
	}
	if got := e.replicaSets("ab"); got[v2] != [2]int32{1, 1} {
		t.Errorf("after retry: ReplicaSets %v", got)
	}
	e.waitEvent("ab", v1alpha1.ReasonRolloutRetry)
}

var _ = corev1.ConditionTrue
var _ = metav1.Now
var _ client.Object
