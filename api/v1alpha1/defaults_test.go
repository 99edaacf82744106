package v1alpha1

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDefaultsAppliedWhenRead(t *testing.T) {
	var spec RolloutSpec
	if spec.GetReplicas() != 1 || spec.GetRevisionHistoryLimit() != 10 || spec.GetProgressDeadlineSeconds() != 600 {
		t.Errorf("rollout defaults: %d %d %d", spec.GetReplicas(), spec.GetRevisionHistoryLimit(), spec.GetProgressDeadlineSeconds())
	}
	bg := BlueGreenStrategy{}
	if !bg.GetAutoPromotionEnabled() || bg.GetScaleDownDelaySeconds() != 30 || bg.GetAbortScaleDownDelaySeconds() != 30 {
		t.Error("blue/green defaults")
	}
	c := CanaryStrategy{}
	if c.GetMaxSurge() != intstr.FromString("25%") || c.GetMaxUnavailable() != intstr.FromString("25%") || c.GetMaxTrafficWeight() != 100 || c.GetMinPodsPerReplicaSet() != 1 {
		t.Error("canary defaults")
	}
	five := int32(5)
	c.TrafficRouting = &RolloutTrafficRouting{MaxTrafficWeight: &five}
	if c.GetMaxTrafficWeight() != 5 {
		t.Error("maxTrafficWeight not read")
	}
}

// A Rollout that takes its template from a Deployment is written without an
// empty template, which the API server would refuse.
func TestWorkloadRefRolloutMarshalsWithoutTemplate(t *testing.T) {
	ro := Rollout{Spec: RolloutSpec{WorkloadRef: &ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "d"},
		Strategy: RolloutStrategy{Canary: &CanaryStrategy{}}}}
	b, err := json.Marshal(ro)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"template"`) || strings.Contains(string(b), `"status"`) {
		t.Errorf("marshalled %s", b)
	}
}

func TestAnalysisPhaseCompleted(t *testing.T) {
	for p, want := range map[AnalysisPhase]bool{
		AnalysisPhasePending: false, AnalysisPhaseRunning: false, AnalysisPhaseSuccessful: true,
		AnalysisPhaseFailed: true, AnalysisPhaseError: true, AnalysisPhaseInconclusive: true,
	} {
		if p.Completed() != want {
			t.Errorf("%s.Completed() = %v", p, !want)
		}
	}
}
