package canary

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// StepsHash identifies a list of steps; a rollout whose steps change
// starts them over.
func StepsHash(steps []v1alpha1.CanaryStep) string {
	b, err := json.Marshal(steps)
	if err != nil {
		// The steps are plain data; this cannot happen.
		panic(err)
	}
	h := fnv.New32a()
	h.Write(b)
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}

// Weight is the canary weight in force at step index: that of the last
// setWeight step at or before it, 0 before any, and maxWeight once the
// steps are done (index == len(steps)).
func Weight(steps []v1alpha1.CanaryStep, index int32, maxWeight int32) int32 {
	if int(index) >= len(steps) {
		return maxWeight
	}
	for i := index; i >= 0; i-- {
		if w := steps[i].SetWeight; w != nil {
			return *w
		}
	}
	return 0
}

// Scale is the setCanaryScale in force at step index, or nil when the
// canary is sized by its weight (no such step yet, matchTrafficWeight, or
// the steps are done).
func Scale(steps []v1alpha1.CanaryStep, index int32) *CanaryScale {
	if int(index) >= len(steps) {
		return nil
	}
	var in *CanaryScale
	for i := int32(0); i <= index; i++ {
		s := steps[i].SetCanaryScale
		switch {
		case s == nil:
		case s.MatchTrafficWeight:
			in = nil
		default:
			in = &CanaryScale{Replicas: s.Replicas, Weight: s.Weight}
		}
	}
	return in
}

// PauseDuration is a pause step's duration; indefinite is true when it has
// none (the rollout waits to be promoted).
func PauseDuration(p *v1alpha1.RolloutPause) (d time.Duration, indefinite bool, err error) {
	if p == nil || p.Duration == nil {
		return 0, true, nil
	}
	v := *p.Duration
	if v.Type == intstr.Int {
		return time.Duration(v.IntVal) * time.Second, false, nil
	}
	if n, err := strconv.ParseInt(v.StrVal, 10, 32); err == nil {
		return time.Duration(n) * time.Second, false, nil
	}
	d, err = time.ParseDuration(v.StrVal)
	if err != nil || d < 0 {
		return 0, false, fmt.Errorf("pause duration %q: a number of seconds or a duration such as 30s, 5m or 1h", v.StrVal)
	}
	return d, false, nil
}

// Describe names a step for people: "setWeight 40", "pause 30s",
// "pause (until promoted)", "analysis", ...
func Describe(step v1alpha1.CanaryStep) string {
	switch {
	case step.SetWeight != nil:
		return fmt.Sprintf("setWeight %d", *step.SetWeight)
	case step.Pause != nil:
		if step.Pause.Duration == nil {
			return "pause (until promoted)"
		}
		return "pause " + step.Pause.Duration.String()
	case step.Analysis != nil:
		return "analysis"
	case step.SetCanaryScale != nil:
		s := step.SetCanaryScale
		switch {
		case s.Replicas != nil:
			return fmt.Sprintf("setCanaryScale %d replicas", *s.Replicas)
		case s.Weight != nil:
			return fmt.Sprintf("setCanaryScale %d%%", *s.Weight)
		}
		return "setCanaryScale matchTrafficWeight"
	case step.SetHeaderRoute != nil:
		return "setHeaderRoute " + step.SetHeaderRoute.Name
	case step.SetMirrorRoute != nil:
		return "setMirrorRoute " + step.SetMirrorRoute.Name
	case step.Experiment != nil:
		return "experiment"
	case step.Plugin != nil:
		return "plugin " + step.Plugin.Name
	}
	return "step"
}
