package notify_test

import (
	"testing"

	"github.com/rampdev/ramp/internal/notify"
)

func TestTriggerName(t *testing.T) {
	for reason, want := range map[string]string{
		"RolloutCompleted":      "on-rollout-completed",
		"RolloutStepCompleted":  "on-rollout-step-completed",
		"ScalingReplicaSet":     "on-scaling-replica-set",
		"AnalysisRunFailed":     "on-analysis-run-failed",
		"ReplicaSetCreateError": "on-replica-set-create-error",
		"RolloutAborted":        "on-rollout-aborted",
	} {
		if got := notify.TriggerName(reason); got != want {
			t.Errorf("%s: %s, want %s", reason, got, want)
		}
	}
}
