package rollout

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// A status that differs from the last one written only in its pod counts
// waits up to CountsDelay after that write; anything else, a rollout never
// written, or a write long ago, goes at once.
func TestCountsOnlyChangesAreCoalesced(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	r := &Reconciler{Clock: clk}
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r"},
		Status: v1alpha1.RolloutStatus{Phase: v1alpha1.RolloutPhaseProgressing, Message: "step 1/2", Replicas: 2}}
	counts := ro.Status.DeepCopy()
	counts.Replicas, counts.ReadyReplicas = 3, 1
	message := counts.DeepCopy()
	message.Message = "step 2/2"

	if got := r.coalesce(ro, counts); got != 0 {
		t.Errorf("never written: held back %s", got)
	}
	r.written.Store(key(ro), lastWrite{resourceVersion: "1", at: clk.Now()})
	clk.SetTime(clk.Now().Add(300 * time.Millisecond))
	if got := r.coalesce(ro, counts); got != CountsDelay-300*time.Millisecond {
		t.Errorf("counts 300ms after a write: held back %s; want the rest of %s", got, CountsDelay)
	}
	if got := r.coalesce(ro, message); got != 0 {
		t.Errorf("a new message: held back %s", got)
	}
	clk.SetTime(clk.Now().Add(CountsDelay))
	if got := r.coalesce(ro, counts); got != 0 {
		t.Errorf("counts a delay after the write: held back %s", got)
	}
}

func key(ro *v1alpha1.Rollout) types.NamespacedName {
	return types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}
}
