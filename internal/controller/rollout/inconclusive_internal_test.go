package rollout

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// The Inconclusive pause and its record land in one status: a promotion
// that clears pauseConditions right after the pause appears (a script
// running `ramp status --until paused && ramp promote`) goes past the run,
// and a second run caught by the same pause goes with it.
func TestInconclusivePauseIsRecordedWithItsCondition(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "inc"}}
	s := &syncer{r: &Reconciler{}, ro: ro, now: time.Unix(0, 0), status: &v1alpha1.RolloutStatus{}}
	run := func(name string) *v1alpha1.AnalysisRun {
		return &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseInconclusive}}
	}
	step, background := run("inc-abc-step1"), run("inc-abc-background")

	if s.verdict(t.Context(), step, "step") {
		t.Fatal("an Inconclusive run let the release go on")
	}
	if len(s.status.PauseConditions) != 1 || s.status.PauseConditions[0].Reason != v1alpha1.PauseReasonInconclusiveAnalysis {
		t.Fatalf("pause conditions %+v", s.status.PauseConditions)
	}
	if s.verdict(t.Context(), background, "background") || len(s.status.PauseConditions) != 1 {
		t.Fatalf("a second Inconclusive run: pause conditions %+v", s.status.PauseConditions)
	}
	if got := s.status.PausedOnRuns; len(got) != 2 || got[0] != step.Name || got[1] != background.Name {
		t.Fatalf("pausedOnRuns %v", got)
	}

	// The status as written, then a person promotes at once.
	s.status = s.status.DeepCopy()
	s.status.PauseConditions = nil
	for _, r := range []*v1alpha1.AnalysisRun{step, background} {
		if !s.verdict(t.Context(), r, "step") {
			t.Errorf("%s: promoted past, yet the rollout holds", r.Name)
		}
	}
	if len(s.status.PauseConditions) != 0 {
		t.Fatalf("paused again after the promotion: %+v", s.status.PauseConditions)
	}

	// A new run under another name pauses afresh.
	if s.verdict(t.Context(), run("inc-abc-step3"), "step") || len(s.status.PauseConditions) != 1 {
		t.Fatalf("a later Inconclusive run did not pause: %+v", s.status.PauseConditions)
	}
}
