package rollout_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// reconciles is the number of Rollout reconciles the controllers of this
// process have run.
func reconciles(t *testing.T) float64 { return clustertest.Reconciles(t, "rollout") }

func TestRolloutAtRestCostsNoWrites(t *testing.T) {
	for _, c := range []struct {
		name string
		ro   func() *v1alpha1.Rollout
	}{
		{"bluegreen", func() *v1alpha1.Rollout {
			return blueGreen("rest", 2, v1alpha1.BlueGreenStrategy{ActiveService: "rest-canary"})
		}},
		{"canary", func() *v1alpha1.Rollout {
			return canaryRollout("rest", 2, routed("rest", weight(50), pause()))
		}},
		{"basic-canary", func() *v1alpha1.Rollout {
			return canaryRollout("rest", 2, v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{weight(50), pause()}})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.canaryServices("rest")
			e.create(c.ro())
			e.waitPhase("rest", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
			// Let the last status write land, then count.
			e.eventually(10*time.Second, "writes settle", func() (bool, string) {
				before := writes.Count(e.ns)
				n := reconciles(t)
				e.touch("rest")
				e.eventually(10*time.Second, "a reconcile", func() (bool, string) { return reconciles(t) > n, "" })
				return writes.Count(e.ns) == before, fmt.Sprintf("%d writes", writes.Count(e.ns)-before)
			})
			before, routerCalls := writes.Count(e.ns), e.router("rest").Calls()
			if before == 0 {
				t.Fatal("the write counter saw none of the controller's writes")
			}
			for i := 0; i < 3; i++ {
				n := reconciles(t)
				e.touch("rest")
				e.eventually(10*time.Second, "a reconcile", func() (bool, string) { return reconciles(t) > n, "" })
			}
			if got := writes.Count(e.ns) - before; got != 0 {
				t.Errorf("a rollout at rest made %d API writes over 3 reconciles", got)
			}
			if got := e.router("rest").Calls() - routerCalls; got != 0 {
				t.Errorf("a rollout at rest called its router %d times", got)
			}
		})
	}
}

// touch changes an annotation of the rollout: a change that asks for a
// reconcile and nothing else.
func (e *env) touch(name string) {
	e.t.Helper()
	ro := e.rollout(name)
	patch := client.MergeFrom(ro.DeepCopy())
	if ro.Annotations == nil {
		ro.Annotations = map[string]string{}
	}
	ro.Annotations["test/touched"] = fmt.Sprint(time.Now().UnixNano())
	if err := cl.Patch(e.ctx, ro, patch); err != nil {
		e.t.Fatal(err)
	}
}

func TestHPAScalesThroughTheScaleSubresource(t *testing.T) {
	e := newEnv(t)
	e.service("hpa-active", "hpa")
	e.create(blueGreen("hpa", 2, v1alpha1.BlueGreenStrategy{ActiveService: "hpa-active"}))
	hash := e.waitPhase("hpa", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	scale, err := kube.AppsV1().ReplicaSets(e.ns).Get(e.ctx, "hpa-"+hash, metav1.GetOptions{})
	if err != nil || ptr.Deref(scale.Spec.Replicas, 0) != 2 {
		t.Fatalf("ReplicaSet before scaling: %v %+v", err, scale)
	}
	// An HorizontalPodAutoscaler writes /scale; so does this.
	e.scaleTo("hpa", 4)
	e.eventually(30*time.Second, "4 pods", func() (bool, string) {
		got := e.replicaSets("hpa")
		ro := e.rollout("hpa")
		return got[hash] == [2]int32{4, 4} && ro.Status.HPAReplicas == 4 && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy,
			fmt.Sprintf("%v HPAReplicas %d phase %s", got, ro.Status.HPAReplicas, ro.Status.Phase)
	})
	// The scale subresource reports the selector an HPA needs.
	s := &autoscalingScale{}
	if err := cl.SubResource("scale").Get(e.ctx, e.rollout("hpa"), s.obj()); err != nil {
		t.Fatal(err)
	}
	if s.s.Status.Selector != "app=hpa" || s.s.Status.Replicas != 4 {
		t.Errorf("scale status %+v", s.s.Status)
	}
}

func TestControllerRestartMidUpdate(t *testing.T) {
	e := newEnv(t)
	e.service("rs-active", "rs")
	e.service("rs-preview", "rs")
	e.create(blueGreen("rs", 2, v1alpha1.BlueGreenStrategy{
		ActiveService: "rs-active", PreviewService: "rs-preview", AutoPromotionEnabled: ptr.To(false), ScaleDownDelaySeconds: ptr.To[int32](2),
	}))
	v1 := e.waitPhase("rs", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	e.setImage("rs", "example/rs:2")
	restartController(t) // while the new ReplicaSet is being created and scaled
	v2 := e.waitPhase("rs", v1alpha1.RolloutPhasePaused, 30*time.Second).Status.CurrentPodHash
	restartController(t) // while paused: the pause must hold
	ro := e.waitPhase("rs", v1alpha1.RolloutPhasePaused, 30*time.Second)
	if e.selector("rs-active") != v1 || len(ro.Status.PauseConditions) != 1 {
		t.Fatalf("after a restart while paused: active %s, pause %+v", e.selector("rs-active"), ro.Status.PauseConditions)
	}
	e.patchStatus("rs", func(s *v1alpha1.RolloutStatus) { s.PauseConditions = nil })
	e.waitPhase("rs", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	restartController(t) // during the old version's scale-down delay
	e.eventually(30*time.Second, "v1 scaled down, v2 serving", func() (bool, string) {
		got := e.replicaSets("rs")
		return got[v1] == [2]int32{0, 0} && got[v2] == [2]int32{2, 2} && e.selector("rs-active") == v2, fmt.Sprint(got)
	})
	if got := e.replicaSets("rs"); len(got) != 2 {
		t.Errorf("ReplicaSets %v: want exactly one per template", got)
	}
}

func TestRestartEvictsEveryPodAFewAtATime(t *testing.T) {
	e := newEnv(t)
	e.service("rst-active", "rst")
	e.create(blueGreen("rst", 3, v1alpha1.BlueGreenStrategy{ActiveService: "rst-active"}))
	hash := e.waitPhase("rst", v1alpha1.RolloutPhaseHealthy, 30*time.Second).Status.StableRS
	podNames := func() map[string]bool {
		pods, err := kube.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: "app=rst"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				out[p.Name] = true
			}
		}
		return out
	}
	before := podNames()
	at := e.restart("rst")
	e.eventually(60*time.Second, "every pod replaced and restartedAt recorded", func() (bool, string) {
		now := podNames()
		for name := range before {
			if now[name] {
				return false, fmt.Sprintf("old pod %s still there", name)
			}
		}
		ro := e.rollout("rst")
		return len(now) == 3 && ro.Status.RestartedAt != nil && ro.Status.RestartedAt.Equal(&at), fmt.Sprintf("%d pods, restartedAt %v", len(now), ro.Status.RestartedAt)
	})
	e.waitEvent("rst", "RolloutRestarted")
	if got := e.replicaSets("rst"); len(got) != 1 || got[hash] != [2]int32{3, 3} {
		t.Errorf("a restart must not create a ReplicaSet: %v", got)
	}
}

func TestRestartHonoursPodDisruptionBudgets(t *testing.T) {
	e := newEnv(t)
	e.service("pdb-active", "pdb")
	e.create(blueGreen("pdb", 2, v1alpha1.BlueGreenStrategy{ActiveService: "pdb-active"}))
	e.waitPhase("pdb", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	// A budget that allows no disruption at all.
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "pdb", Namespace: e.ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pdb"}},
		},
	}
	if err := cl.Create(e.ctx, pdb); err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, "the budget observed", func() (bool, string) {
		got := &policyv1.PodDisruptionBudget{}
		if err := cl.Get(e.ctx, client.ObjectKeyFromObject(pdb), got); err != nil {
			return false, err.Error()
		}
		return got.Status.ObservedGeneration == got.Generation && got.Status.ExpectedPods == 2, fmt.Sprintf("%+v", got.Status)
	})
	e.restart("pdb")
	e.waitEvent("pdb", "RestartBlocked")
	// Progressing while the restart waits, with the reason in the message.
	ro := e.waitPhase("pdb", v1alpha1.RolloutPhaseProgressing, 10*time.Second)
	if ro.Status.RestartedAt != nil || !strings.Contains(ro.Status.Message, "restarting the pods created before") {
		t.Fatalf("while blocked: restartedAt %v, message %q", ro.Status.RestartedAt, ro.Status.Message)
	}
	// Loosen the budget: the restart goes through.
	if err := cl.Delete(e.ctx, pdb); err != nil {
		t.Fatal(err)
	}
	e.eventually(60*time.Second, "restart completed", func() (bool, string) {
		ro := e.rollout("pdb")
		return ro.Status.RestartedAt != nil, fmt.Sprint(e.events("pdb"))
	})
	e.waitPhase("pdb", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
}

// restart asks for a restart, as `ramp restart` does. Pod creation times
// have one-second precision: it asks for pods created before the next
// second.
func (e *env) restart(name string) metav1.Time {
	e.t.Helper()
	at := metav1.NewTime(time.Now().Add(time.Second).Truncate(time.Second))
	ro := e.rollout(name)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.RestartAt = &at
	if err := cl.Patch(e.ctx, ro, patch); err != nil {
		e.t.Fatal(err)
	}
	return at
}
