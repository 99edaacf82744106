package canary

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
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
// "pause (until promoted)", "analysis", "setCanaryScale 2 replicas, setHeaderRoute beta" ...
func Describe(step v1alpha1.CanaryStep) string {
	var parts []string
	switch {
	case step.SetWeight != nil:
		parts = append(parts, fmt.Sprintf("setWeight %d", *step.SetWeight))
	case step.Pause != nil:
		if step.Pause.Duration == nil {
			parts = append(parts, "pause (until promoted)")
		} else {
			parts = append(parts, "pause "+step.Pause.Duration.String())
		}
	case step.Analysis != nil:
		parts = append(parts, "analysis")
	case step.Experiment != nil:
		parts = append(parts, "experiment")
	}
	if s := step.SetCanaryScale; s != nil {
		switch {
		case s.Replicas != nil:
			parts = append(parts, fmt.Sprintf("setCanaryScale %d replicas", *s.Replicas))
		case s.Weight != nil:
			parts = append(parts, fmt.Sprintf("setCanaryScale %d%%", *s.Weight))
		default:
			parts = append(parts, "setCanaryScale matchTrafficWeight")
		}
	}
	if step.SetHeaderRoute != nil {
		parts = append(parts, "setHeaderRoute "+step.SetHeaderRoute.Name)
	}
	if step.SetMirrorRoute != nil {
		parts = append(parts, "setMirrorRoute "+step.SetMirrorRoute.Name)
	}
	if step.Plugin != nil {
		parts = append(parts, "plugin "+step.Plugin.Name)
	}
	if len(parts) == 0 {
		return "step"
	}
	return strings.Join(parts, ", ")
}
