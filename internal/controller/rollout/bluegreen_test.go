package rollout_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
)

func TestBlueGreenFirstDeployGoesStraightToHealthy(t *testing.T) {
	e := newEnv(t)
	e.service("web-active", "web")
	e.service("web-preview", "web")
	e.create(blueGreen("web", 3, v1alpha1.BlueGreenStrategy{ActiveService: "web-active", PreviewService: "web-preview", AutoPromotionEnabled: ptr.To(false)}))

	ro := e.waitPhase("web", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	hash := ro.Status.CurrentPodHash
	if ro.Status.StableRS != hash || ro.Status.AvailableReplicas != 3 || ro.Status.UpdatedReplicas != 3 || ro.Status.HPAReplicas != 3 {
		t.Errorf("status %+v", ro.Status)
	}
	if got := e.replicaSets("web"); len(got) != 1 || got[hash] != [2]int32{3, 3} {
		t.Errorf("ReplicaSets %v, want one of 3 ready pods", got)
	}
	if e.selector("web-active") != hash || e.selector("web-preview") != hash {
		t.Errorf("selectors active=%s preview=%s, want %s", e.selector("web-active"), e.selector("web-preview"), hash)
	}
	for _, c := range []v1alpha1.RolloutConditionType{v1alpha1.RolloutAvailable, v1alpha1.RolloutHealthy, v1alpha1.RolloutCompleted} {
		if cond := condition(ro, c); cond == nil || cond.Status != corev1.ConditionTrue {
			t.Errorf("condition %s: %+v", c, cond)
		}
	}
	e.waitEvent("web", v1alpha1.ReasonNewReplicaSetCreated)
	e.waitEvent("web", v1alpha1.ReasonRolloutCompleted)
}

func TestBlueGreenUpdateWithManualPromotion(t *testing.T) {
	e := newEnv(t)
	e.service("shop-active", "shop")
	e.service("shop-preview", "shop")
	e.create(blueGreen("shop", 2, v1alpha1.BlueGreenStrategy{
		ActiveService: "shop-active", PreviewService: "shop-preview",
		AutoPromotionEnabled: ptr.To(false), PreviewReplicaCount: ptr.To[int32](1), ScaleDownDelaySeconds: ptr.To[int32](2),
	}))
	v1 := e.waitPhase("shop", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS

	e.setImage("shop", "example/shop:2")
	ro := e.waitPhase("shop", v1alpha1.RolloutPhasePaused, 30*time.Second)
	v2 := ro.Status.CurrentPodHash
	if v2 == v1 {
		t.Fatal("the new template has the old hash")
	}
	// The preview runs at previewReplicaCount behind the preview Service; the
	// active Service still serves v1 at full size.
	if got := e.replicaSets("shop"); got[v1] != [2]int32{2, 2} || got[v2] != [2]int32{1, 1} {
		t.Errorf("ReplicaSets %v: want v1 2/2 and v2 1/1", got)
	}
	if e.selector("shop-active") != v1 || e.selector("shop-preview") != v2 {
		t.Errorf("selectors active=%s preview=%s", e.selector("shop-active"), e.selector("shop-preview"))
	}
	if len(ro.Status.PauseConditions) != 1 || ro.Status.PauseConditions[0].Reason != v1alpha1.PauseReasonBlueGreenPause || !ro.Status.ControllerPause {
		t.Errorf("pause state %+v", ro.Status)
	}
	if ro.Status.BlueGreen.ActiveSelector != v1 || ro.Status.BlueGreen.PreviewSelector != v2 {
		t.Errorf("blueGreen status %+v", ro.Status.BlueGreen)
	}
	e.waitEvent("shop", v1alpha1.ReasonRolloutPaused)

	// Promote: clear the pause, as `ramp promote` does.
	e.patchStatus("shop", func(s *v1alpha1.RolloutStatus) { s.PauseConditions = nil })
	ro = e.waitPhase("shop", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v2 || e.selector("shop-active") != v2 || e.selector("shop-preview") != v2 {
		t.Fatalf("after promotion: stable %s active %s preview %s, want %s", ro.Status.StableRS, e.selector("shop-active"), e.selector("shop-preview"), v2)
	}
	// v1 waits out scaleDownDelaySeconds with a deadline, then goes.
	if rs := e.replicaSet("shop", v1); rs.Annotations[v1alpha1.ScaleDownDeadlineAnnotationKey] == "" {
		if *rs.Spec.Replicas != 0 {
			t.Errorf("v1 has neither a scale-down deadline nor size 0: %v", rs.Annotations)
		}
	}
	e.eventually(20*time.Second, "v1 scaled down after the delay", func() (bool, string) {
		got := e.replicaSets("shop")
		return got[v1] == [2]int32{0, 0} && got[v2] == [2]int32{2, 2}, fmt.Sprint(got)
	})
}

func TestBlueGreenAutoPromotionSeconds(t *testing.T) {
	e := newEnv(t)
	e.service("auto-active", "auto")
	e.create(blueGreen("auto", 1, v1alpha1.BlueGreenStrategy{ActiveService: "auto-active", AutoPromotionSeconds: 2, ScaleDownDelaySeconds: ptr.To[int32](0)}))
	v1 := e.waitPhase("auto", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("auto", "example/auto:2")
	ro := e.waitPhase("auto", v1alpha1.RolloutPhasePaused, 30*time.Second)
	v2 := ro.Status.CurrentPodHash
	paused := ro.Status.PauseConditions[0].StartTime.Time
	ro = e.waitPhase("auto", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v2 || e.selector("auto-active") != v2 {
		t.Fatalf("not promoted: %+v", ro.Status)
	}
	if since := time.Since(paused); since < time.Second {
		t.Errorf("promoted %v after the pause began; want autoPromotionSeconds (2s)", since)
	}
	e.waitEvent("auto", v1alpha1.ReasonRolloutResumed)
	e.eventually(20*time.Second, "v1 scaled down at once", func() (bool, string) {
		got := e.replicaSets("auto")
		return got[v1] == [2]int32{0, 0}, fmt.Sprint(got)
	})
}

func TestBlueGreenAbortAndRetry(t *testing.T) {
	e := newEnv(t)
	e.service("ab-active", "ab")
	e.service("ab-preview", "ab")
	e.create(blueGreen("ab", 2, v1alpha1.BlueGreenStrategy{
		ActiveService: "ab-active", PreviewService: "ab-preview", AutoPromotionEnabled: ptr.To(false), AbortScaleDownDelaySeconds: ptr.To[int32](1),
	}))
	v1 := e.waitPhase("ab", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("ab", "example/ab:2")
	v2 := e.waitPhase("ab", v1alpha1.RolloutPhasePaused, 30*time.Second).Status.CurrentPodHash

	e.patchStatus("ab", func(s *v1alpha1.RolloutStatus) { s.Abort = true })
	ro := e.waitPhase("ab", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if !strings.Contains(ro.Status.Message, "aborted") || ro.Status.AbortedAt == nil {
		t.Errorf("status after abort: %s %+v", ro.Status.Message, ro.Status.AbortedAt)
	}
	if c := condition(ro, v1alpha1.RolloutProgressing); c == nil || c.Reason != v1alpha1.ReasonRolloutAborted {
		t.Errorf("Progressing condition %+v", c)
	}
	e.eventually(20*time.Second, "v2 scaled down after abortScaleDownDelaySeconds, v1 serving", func() (bool, string) {
		got := e.replicaSets("ab")
		return got[v2] == [2]int32{0, 0} && got[v1] == [2]int32{2, 2} && e.selector("ab-active") == v1, fmt.Sprint(got, " active ", e.selector("ab-active"))
	})
	e.waitEvent("ab", v1alpha1.ReasonRolloutAborted)
	if d := e.rollout("ab").Status.Duration; d == nil || d.CompletionStatus != v1alpha1.CompletionAborted || d.FinishedAt == nil {
		t.Errorf("duration after abort: %+v", d)
	}

	// Retry starts the update over: preview up again, paused before the switch.
	e.patchStatus("ab", func(s *v1alpha1.RolloutStatus) { s.Abort = false })
	e.waitPhase("ab", v1alpha1.RolloutPhasePaused, 30*time.Second)
	if got := e.replicaSets("ab"); got[v2] != [2]int32{2, 2} || e.selector("ab-active") != v1 || e.selector("ab-preview") != v2 {
		t.Errorf("after retry: %v active %s preview %s", got, e.selector("ab-active"), e.selector("ab-preview"))
	}
	e.waitEvent("ab", v1alpha1.ReasonRolloutRetry)
	if d := e.rollout("ab").Status.Duration; d == nil || d.FinishedAt != nil || d.CompletionStatus != "" {
		t.Errorf("a retry times the update afresh: %+v", d)
	}
}

func TestBlueGreenMissingServiceIsDegradedThenRecovers(t *testing.T) {
	e := newEnv(t)
	e.create(blueGreen("lost", 1, v1alpha1.BlueGreenStrategy{ActiveService: "lost-active"}))
	ro := e.waitPhase("lost", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	c := condition(ro, v1alpha1.InvalidSpec)
	if c == nil || c.Reason != v1alpha1.ReasonServiceReferenceError || !strings.Contains(c.Message, `Service "lost-active" not found`) {
		t.Fatalf("InvalidSpec condition %+v", c)
	}
	e.waitEvent("lost", v1alpha1.ReasonServiceReferenceError)
	e.service("lost-active", "lost")
	ro = e.waitPhase("lost", v1alpha1.RolloutPhaseHealthy, 60*time.Second)
	if condition(ro, v1alpha1.InvalidSpec) != nil {
		t.Error("InvalidSpec condition kept after recovery")
	}
}

func TestInvalidSpecIsDegradedWithTheFieldNamed(t *testing.T) {
	e := newEnv(t)
	e.service("bad-active", "bad")
	ro := blueGreen("bad", 1, v1alpha1.BlueGreenStrategy{ActiveService: "bad-active"})
	ro.Spec.Template.Labels = map[string]string{"app": "other"} // does not match the selector
	e.create(ro)
	got := e.waitPhase("bad", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	c := condition(got, v1alpha1.InvalidSpec)
	if c == nil || !strings.Contains(c.Message, "spec.template.metadata.labels") || !strings.Contains(c.Message, "must match spec.selector") {
		t.Fatalf("InvalidSpec condition %+v", c)
	}
	if rs := e.replicaSets("bad"); len(rs) != 0 {
		t.Errorf("an invalid rollout created ReplicaSets: %v", rs)
	}
	e.waitEvent("bad", v1alpha1.ReasonInvalidSpec)
}

func TestBlueGreenFastRollbackInsideTheScaleDownDelay(t *testing.T) {
	e := newEnv(t)
	e.service("fr-active", "fr")
	e.create(blueGreen("fr", 2, v1alpha1.BlueGreenStrategy{ActiveService: "fr-active", AutoPromotionEnabled: ptr.To(false), ScaleDownDelaySeconds: ptr.To[int32](60)}))
	v1 := e.waitPhase("fr", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("fr", "example/fr:2")
	e.waitPhase("fr", v1alpha1.RolloutPhasePaused, 30*time.Second)
	e.patchStatus("fr", func(s *v1alpha1.RolloutStatus) { s.PauseConditions = nil })
	v2 := e.waitPhase("fr", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	if v2 == v1 || e.selector("fr-active") != v2 {
		t.Fatalf("not promoted to v2")
	}
	// v1 still runs, inside its 60 s delay. Re-applying it switches back at
	// once: no pause, no new ReplicaSet.
	e.setImage("fr", "example/fr:1")
	ro := e.waitPhase("fr", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v1 || e.selector("fr-active") != v1 {
		t.Fatalf("fast rollback: stable %s active %s, want %s", ro.Status.StableRS, e.selector("fr-active"), v1)
	}
	if got := e.replicaSets("fr"); len(got) != 2 || got[v1] != [2]int32{2, 2} {
		t.Errorf("ReplicaSets %v", got)
	}
	if d := ro.Status.Duration; d == nil || d.CompletionStatus != v1alpha1.CompletionFastRolledBack {
		t.Errorf("duration %+v, want FastRolledBack", d)
	}
	if _, ok := e.replicaSet("fr", v1).Annotations[v1alpha1.ScaleDownDeadlineAnnotationKey]; ok {
		t.Error("the restored ReplicaSet kept its scale-down deadline")
	}
}

func TestUndoToAScaledDownRevisionReusesItsReplicaSet(t *testing.T) {
	e := newEnv(t)
	e.service("undo-active", "undo")
	e.create(blueGreen("undo", 1, v1alpha1.BlueGreenStrategy{ActiveService: "undo-active", ScaleDownDelaySeconds: ptr.To[int32](0)}))
	v1 := e.waitPhase("undo", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("undo", "example/undo:2")
	e.eventually(30*time.Second, "v2 stable, v1 scaled down", func() (bool, string) {
		ro := e.rollout("undo")
		got := e.replicaSets("undo")
		return ro.Status.StableRS != v1 && got[v1] == [2]int32{0, 0}, fmt.Sprint(ro.Status.StableRS, got)
	})
	// Undo, as `ramp undo` does: the old template goes back into the spec.
	e.setImage("undo", "example/undo:1")
	ro := e.waitPhase("undo", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if ro.Status.StableRS != v1 || e.selector("undo-active") != v1 {
		t.Fatalf("after undo: stable %s, active %s, want %s", ro.Status.StableRS, e.selector("undo-active"), v1)
	}
	if got := e.replicaSets("undo"); len(got) != 2 {
		t.Errorf("ReplicaSets %v: undo must reuse the old ReplicaSet", got)
	}
}

func TestOtherInstancesRolloutsAreLeftAlone(t *testing.T) {
	e := newEnv(t)
	e.service("other-active", "other")
	ro := blueGreen("other", 1, v1alpha1.BlueGreenStrategy{ActiveService: "other-active"})
	ro.Labels = map[string]string{v1alpha1.InstanceIDLabelKey: "someone-else"}
	e.create(ro)
	e.service("mine-active", "mine")
	e.create(blueGreen("mine", 1, v1alpha1.BlueGreenStrategy{ActiveService: "mine-active"}))
	e.waitPhase("mine", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if got := e.rollout("other"); got.Status.Phase != "" || len(e.replicaSets("other")) != 0 {
		t.Errorf("a rollout of another instance was handled: phase %q, ReplicaSets %v", got.Status.Phase, e.replicaSets("other"))
	}
}

func TestCrashLoopingVersionIsReportedThenAbortedAtTheDeadline(t *testing.T) {
	e := newEnv(t)
	e.service("crash-active", "crash")
	ro := blueGreen("crash", 2, v1alpha1.BlueGreenStrategy{ActiveService: "crash-active", AbortScaleDownDelaySeconds: ptr.To[int32](0)})
	ro.Spec.ProgressDeadlineSeconds = ptr.To[int32](8)
	ro.Spec.ProgressDeadlineAbort = true
	e.create(ro)
	v1 := e.waitPhase("crash", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS

	// The report lasts only until the deadline: every Progressing message
	// written is collected from a watch, so a busy machine's slow polling
	// cannot miss it.
	wcl, err := client.NewWithWatch(shared.Config(), client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wcl.Watch(e.ctx, &v1alpha1.RolloutList{}, client.InNamespace(e.ns), client.MatchingFields{"metadata.name": "crash"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	var messages []string
	go func() {
		for ev := range w.ResultChan() {
			if r, ok := ev.Object.(*v1alpha1.Rollout); ok {
				if c := condition(r, v1alpha1.RolloutProgressing); c != nil {
					mu.Lock()
					messages = append(messages, c.Message)
					mu.Unlock()
				}
			}
		}
	}()

	// The new version crash-loops.
	got := e.rollout("crash")
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.Template.Annotations = map[string]string{cluster.AnnotationCrash: "true"}
	if err := cl.Patch(e.ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	// Before the deadline, the Progressing condition says which pods fail and why.
	e.eventually(30*time.Second, "the crash loop reported", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range messages {
			if strings.Contains(m, "CrashLoopBackOff") && strings.Contains(m, "pod crash-") {
				return true, m
			}
		}
		return false, strings.Join(messages, "\n")
	})
	// At the deadline the update is aborted: v1 keeps serving.
	ro = e.waitPhase("crash", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if !ro.Status.Abort {
		t.Errorf("progressDeadlineAbort did not abort: %+v", ro.Status)
	}
	e.waitEvent("crash", v1alpha1.ReasonProgressDeadlineExceeded)
	e.waitEvent("crash", v1alpha1.ReasonRolloutAborted)
	e.eventually(10*time.Second, "the message names the deadline", func() (bool, string) {
		msg := e.rollout("crash").Status.Message
		return strings.HasPrefix(msg, "RolloutAborted: the progress deadline passed"), msg
	})
	if e.selector("crash-active") != v1 {
		t.Errorf("active selector %s, want v1 %s", e.selector("crash-active"), v1)
	}
}

func TestAntiAffinityAgainstTheStableVersion(t *testing.T) {
	e := newEnv(t)
	e.service("aa-active", "aa")
	e.create(blueGreen("aa", 1, v1alpha1.BlueGreenStrategy{ActiveService: "aa-active", AutoPromotionEnabled: ptr.To(false),
		AntiAffinity: &v1alpha1.AntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: &v1alpha1.PreferredDuringSchedulingIgnoredDuringExecution{Weight: 40}}}))
	v1 := e.waitPhase("aa", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	if e.replicaSet("aa", v1).Spec.Template.Spec.Affinity != nil {
		t.Error("the first version got anti-affinity against nothing")
	}
	e.setImage("aa", "example/aa:2")
	v2 := e.waitPhase("aa", v1alpha1.RolloutPhasePaused, 30*time.Second).Status.CurrentPodHash
	aff := e.replicaSet("aa", v2).Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("affinity %+v", aff)
	}
	term := aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0]
	if term.Weight != 40 || term.PodAffinityTerm.LabelSelector.MatchLabels["rollouts-pod-template-hash"] != v1 {
		t.Errorf("term %+v", term)
	}
}

func TestScaleDownDelayRevisionLimit(t *testing.T) {
	e := newEnv(t)
	e.service("lim-active", "lim")
	e.create(blueGreen("lim", 1, v1alpha1.BlueGreenStrategy{ActiveService: "lim-active", ScaleDownDelaySeconds: ptr.To[int32](600), ScaleDownDelayRevisionLimit: ptr.To[int32](1)}))
	v1 := e.waitPhase("lim", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("lim", "example/lim:2")
	v2 := ""
	e.eventually(30*time.Second, "v2 stable", func() (bool, string) {
		ro := e.rollout("lim")
		v2 = ro.Status.StableRS
		return v2 != v1 && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy, ro.Status.Message
	})
	e.setImage("lim", "example/lim:3")
	e.eventually(30*time.Second, "v3 stable; only v2 kept up in its delay", func() (bool, string) {
		ro := e.rollout("lim")
		got := e.replicaSets("lim")
		return ro.Status.StableRS != v2 && ro.Status.StableRS != v1 && got[v1][0] == 0 && got[v2][0] == 1, fmt.Sprint(got)
	})
}

func TestActiveAndPreviewMetadataFollowTheRole(t *testing.T) {
	e := newEnv(t)
	e.service("md-active", "md")
	e.service("md-preview", "md")
	e.create(blueGreen("md", 1, v1alpha1.BlueGreenStrategy{
		ActiveService: "md-active", PreviewService: "md-preview", AutoPromotionEnabled: ptr.To(false),
		ActiveMetadata:  &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "active"}},
		PreviewMetadata: &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "preview"}, Annotations: map[string]string{"preview": "yes"}},
	}))
	v1 := e.waitPhase("md", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	roles := func() map[string]string { // pod hash -> role label (+ preview annotation)
		pods, err := kube.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: "app=md"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				out[p.Labels["rollouts-pod-template-hash"]] = p.Labels["role"] + "/" + p.Annotations["preview"]
			}
		}
		return out
	}
	e.eventually(20*time.Second, "v1 pods labelled active", func() (bool, string) {
		r := roles()
		return r[v1] == "active/", fmt.Sprint(r)
	})
	e.setImage("md", "example/md:2")
	v2 := e.waitPhase("md", v1alpha1.RolloutPhasePaused, 30*time.Second).Status.CurrentPodHash
	e.eventually(20*time.Second, "v2 pods labelled preview", func() (bool, string) {
		r := roles()
		return r[v1] == "active/" && r[v2] == "preview/yes", fmt.Sprint(r)
	})
	e.patchStatus("md", func(s *v1alpha1.RolloutStatus) { s.PauseConditions = nil })
	e.waitPhase("md", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	// Promoted in place: the same pods are now active, the preview keys gone.
	e.eventually(20*time.Second, "v2 pods relabelled active", func() (bool, string) {
		r := roles()
		return r[v2] == "active/", fmt.Sprint(r)
	})
}

// status.duration says when each update began and how it ended; the
// histogram counts every ending, superseded updates included.
func TestDurationRecordsHowEachUpdateEnded(t *testing.T) {
	e := newEnv(t)
	e.service("dur-active", "dur")
	e.create(blueGreen("dur", 1, v1alpha1.BlueGreenStrategy{ActiveService: "dur-active", AutoPromotionEnabled: ptr.To(false), ScaleDownDelaySeconds: ptr.To[int32](0)}))
	ro := e.waitPhase("dur", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if d := ro.Status.Duration; d == nil || d.CompletionStatus != v1alpha1.CompletionPromoted || d.RolloutStartedAt == nil || d.FinishedAt.Before(d.RolloutStartedAt) {
		t.Fatalf("first deploy: duration %+v", d)
	}
	superseded := observations(t, v1alpha1.CompletionSuperseded)

	// v2 waits for promotion; a manual pause meanwhile is added up.
	e.setImage("dur", "example/dur:2")
	ro = e.waitPhase("dur", v1alpha1.RolloutPhasePaused, 30*time.Second)
	if d := ro.Status.Duration; d == nil || d.FinishedAt != nil || d.CompletionStatus != "" {
		t.Fatalf("during the update: duration %+v", d)
	}
	e.setPaused("dur", true)
	var pausedAt time.Time
	e.eventually(10*time.Second, "the manual pause recorded", func() (bool, string) {
		d := e.rollout("dur").Status.Duration
		if d == nil || d.ManualPauseStartedAt == nil {
			return false, fmt.Sprintf("%+v", d)
		}
		pausedAt = d.ManualPauseStartedAt.Time
		return true, ""
	})
	e.eventually(5*time.Second, "more than a second of manual pause", func() (bool, string) { return time.Since(pausedAt) > 1100*time.Millisecond, "" })
	e.setPaused("dur", false)
	e.eventually(10*time.Second, "the manual pause added up", func() (bool, string) {
		d := e.rollout("dur").Status.Duration
		return d.ManualPauseStartedAt == nil && d.TotalManualPauseDurationSeconds >= 1, fmt.Sprintf("%+v", d)
	})

	// v3 supersedes v2; going back to v1 (the stable template) rolls back.
	e.setImage("dur", "example/dur:3")
	e.eventually(10*time.Second, "v2 superseded", func() (bool, string) {
		n := observations(t, v1alpha1.CompletionSuperseded)
		return n > superseded, fmt.Sprint(n)
	})
	e.setImage("dur", "example/dur:1")
	ro = e.waitPhase("dur", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	if d := ro.Status.Duration; d == nil || d.CompletionStatus != v1alpha1.CompletionRolledBack {
		t.Fatalf("back to the stable template: duration %+v", d)
	}

	// promote-full skips the pause: FastPromoted.
	e.setImage("dur", "example/dur:4")
	e.waitPhase("dur", v1alpha1.RolloutPhasePaused, 30*time.Second)
	e.patchStatus("dur", func(s *v1alpha1.RolloutStatus) { s.PromoteFull = true })
	e.eventually(30*time.Second, "promoted in full", func() (bool, string) {
		d := e.rollout("dur").Status.Duration
		return d != nil && d.CompletionStatus == v1alpha1.CompletionFastPromoted, fmt.Sprintf("%+v", d)
	})
}

// observations is how many updates the duration histogram saw end as how.
func observations(t *testing.T, how string) uint64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "ramp_rollout_update_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "completion_status" && l.GetValue() == how {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}
