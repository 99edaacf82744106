package canary

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func TestWeightAndScaleAtEachStep(t *testing.T) {
	steps := []v1alpha1.CanaryStep{
		{Pause: &v1alpha1.RolloutPause{}},                                      // 0
		{SetWeight: ptr.To[int32](20)},                                         // 1
		{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr.To[int32](3)}}, // 2
		{SetWeight: ptr.To[int32](40)},                                         // 3
		{SetCanaryScale: &v1alpha1.SetCanaryScale{MatchTrafficWeight: true}},   // 4
		{Analysis: &v1alpha1.RolloutAnalysis{}},                                // 5
	}
	for _, c := range []struct {
		index       int32
		weight      int32
		scaledTo    *int32
		scaledByPct *int32
	}{
		{0, 0, nil, nil},
		{1, 20, nil, nil},
		{2, 20, ptr.To[int32](3), nil},
		{3, 40, ptr.To[int32](3), nil},
		{4, 40, nil, nil},
		{5, 40, nil, nil},
		{6, 100, nil, nil}, // done
	} {
		if got := Weight(steps, c.index, 100); got != c.weight {
			t.Errorf("Weight at %d = %d, want %d", c.index, got, c.weight)
		}
		got := Scale(steps, c.index)
		switch {
		case c.scaledTo == nil && got != nil:
			t.Errorf("Scale at %d = %+v, want none", c.index, got)
		case c.scaledTo != nil && (got == nil || got.Replicas == nil || *got.Replicas != *c.scaledTo):
			t.Errorf("Scale at %d = %+v, want %d replicas", c.index, got, *c.scaledTo)
		}
	}
	if got := Weight(nil, 0, 100); got != 100 {
		t.Errorf("no steps: weight %d, want 100 (a rolling update)", got)
	}
	if got := Weight(nil, 0, 1000); got != 1000 {
		t.Errorf("no steps with maxTrafficWeight 1000: weight %d", got)
	}
}

func TestPauseDuration(t *testing.T) {
	for _, c := range []struct {
		in         *intstr.IntOrString
		want       time.Duration
		indefinite bool
		bad        bool
	}{
		{nil, 0, true, false},
		{ptr.To(intstr.FromInt32(30)), 30 * time.Second, false, false},
		{ptr.To(intstr.FromString("45")), 45 * time.Second, false, false},
		{ptr.To(intstr.FromString("2m")), 2 * time.Minute, false, false},
		{ptr.To(intstr.FromString("1h30m")), 90 * time.Minute, false, false},
		{ptr.To(intstr.FromString("soon")), 0, false, true},
	} {
		d, indefinite, err := PauseDuration(&v1alpha1.RolloutPause{Duration: c.in})
		if d != c.want || indefinite != c.indefinite || (err != nil) != c.bad {
			t.Errorf("PauseDuration(%v) = %v, %v, %v", c.in, d, indefinite, err)
		}
	}
}

func TestStepsHashChangesWithTheSteps(t *testing.T) {
	a := []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](20)}}
	b := []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](30)}}
	if StepsHash(a) == StepsHash(b) || StepsHash(a) != StepsHash([]v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](20)}}) {
		t.Error("the steps hash does not follow the steps")
	}
}

func TestDescribe(t *testing.T) {
	for step, want := range map[*v1alpha1.CanaryStep]string{
		{SetWeight: ptr.To[int32](40)}:                                              "setWeight 40",
		{Pause: &v1alpha1.RolloutPause{}}:                                           "pause (until promoted)",
		{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intstr.FromString("30s"))}}: "pause 30s",
		{SetCanaryScale: &v1alpha1.SetCanaryScale{Weight: ptr.To[int32](50)}}:       "setCanaryScale 50%",
		{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "beta"}}:                    "setHeaderRoute beta",
	} {
		if got := Describe(*step); got != want {
			t.Errorf("Describe = %q, want %q", got, want)
		}
	}
}
