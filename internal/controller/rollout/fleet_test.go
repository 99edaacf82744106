package rollout_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/controller/rollout"
)

// A fleet released at once is reconciled by several workers (run with the
// race detector in make test), every rollout reaches its new revision, and
// the reconciler forgets each rollout once it is deleted.
func TestFleetReleasedAtOnceWithSeveralWorkers(t *testing.T) {
	e := newEnv(t)
	const instance = "fleet"
	opts := app.Options{InstanceID: instance, SkipControllerNameValidation: true, WithoutAnalysisRuns: true}
	mgr, err := app.NewManager(clustertest.AsController(shared.Config()), opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &rollout.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Events: mgr.GetEventRecorder("ramp-controller"),
		Clock: clock.RealClock{}, InstanceID: instance, Workers: 4, SkipNameValidation: true}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	clustertest.RunManager(t, mgr)

	const n = 12
	var names []string
	for i := range n {
		name := fmt.Sprintf("f%02d", i)
		names = append(names, name)
		ro := canaryRollout(name, 1, v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{weight(50)}})
		ro.Labels = map[string]string{v1alpha1.InstanceIDLabelKey: instance}
		e.create(ro)
	}
	for _, name := range names {
		e.waitPhase(name, v1alpha1.RolloutPhaseHealthy, 60*time.Second)
	}
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() { defer wg.Done(); e.setImage(name, "example/"+name+":2") }()
	}
	wg.Wait()
	for _, name := range names {
		e.eventually(60*time.Second, name+" released", func() (bool, string) {
			ro := e.rollout(name)
			return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.ObservedGeneration == fmt.Sprint(ro.Generation) &&
				ro.Status.StableRS == ro.Status.CurrentPodHash && len(e.replicaSets(name)) == 2, fmt.Sprint(ro.Status.Phase, " ", ro.Status.Message)
		})
		rss := e.replicaSets(name)
		if rss[e.rollout(name).Status.StableRS] != [2]int32{1, 1} {
			t.Errorf("%s: ReplicaSets %v; want the new one at 1 ready", name, rss)
		}
	}
	if got := r.Remembered(); got < n {
		t.Errorf("the reconciler remembers %d rollouts; want the %d it wrote", got, n)
	}
	for _, name := range names {
		if err := cl.Delete(e.ctx, &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually(30*time.Second, "the deleted rollouts forgotten", func() (bool, string) {
		return r.Remembered() == 0, fmt.Sprint(r.Remembered(), " remembered")
	})
}
