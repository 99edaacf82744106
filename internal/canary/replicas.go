package canary

import (
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Set is one ReplicaSet as the arithmetic sees it.
type Set struct {
	// Replicas is its desired size (spec.replicas).
	Replicas int32
	// Available is how many of its pods are available.
	Available int32
}

// available is the set's available pods, never more than its size.
func (s Set) available() int32 { return max(0, min(s.Available, s.Replicas)) }

// Limits resolves maxSurge (rounded up) and maxUnavailable (rounded down)
// against replicas, as a Deployment does. When both come to 0,
// maxUnavailable is 1, so that an update can always move.
func Limits(replicas int32, maxSurge, maxUnavailable intstr.IntOrString) (surge, unavailable int32, err error) {
	s, err := intstr.GetScaledValueFromIntOrPercent(&maxSurge, int(replicas), true)
	if err != nil {
		return 0, 0, err
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(&maxUnavailable, int(replicas), false)
	if err != nil {
		return 0, 0, err
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

// Approximate splits replicas between canary and stable so that the canary's
// share of the pods comes nearest to weight percent, as Argo Rollouts does:
// for a weight strictly between 0 and 100 both sides keep at least one pod
// whenever there are two pods to share, and with surge the split may use
// one pod more than replicas when that comes nearer (one replica at 20%:
// one canary and one stable pod). Of two equally near splits, the one
// without the extra pod wins, then the larger canary.
func Approximate(replicas, weight int32, surge bool) (canary, stable int32) {
	switch {
	case replicas <= 0:
		return 0, 0
	case weight <= 0:
		return 0, replicas
	case weight >= 100:
		return replicas, 0
	}
	floor := replicas * weight / 100
	ceil := (replicas*weight + 99) / 100
	type split struct{ canary, total int32 }
	var options []split
	for _, c := range []int32{ceil, floor} {
		if c >= 1 && c <= replicas-1 {
			options = append(options, split{c, replicas})
		}
	}
	if surge {
		for _, c := range []int32{ceil, floor} {
			if c >= 1 && c <= replicas {
				options = append(options, split{c, replicas + 1})
			}
		}
	}
	if len(options) == 0 {
		// One pod and no surge: it goes to the nearer side.
		if weight >= 50 {
			return 1, 0
		}
		return 0, 1
	}
	best := options[0]
	for _, o := range options[1:] {
		// Nearer when |c/total - weight/100| is smaller; compared as
		// |100c - weight*total| / total, cross-multiplied.
		if miss(o.canary, o.total, weight)*int64(best.total) < miss(best.canary, best.total, weight)*int64(o.total) {
			best = o
		}
	}
	return best.canary, best.total - best.canary
}

// miss is |100*canary - weight*total|: how far canary/total is from weight
// percent, times 100*total.
func miss(canary, total, weight int32) int64 {
	d := int64(canary)*100 - int64(weight)*int64(total)
	if d < 0 {
		return -d
	}
	return d
}

// BasicInput is the state of a canary without traffic routing.
type BasicInput struct {
	// Replicas is spec.replicas.
	Replicas int32
	// Weight is the canary weight the current step asks for (100 when the
	// steps are done or there are none).
	Weight int32
	// MaxSurge and MaxUnavailable are resolved by Limits.
	MaxSurge, MaxUnavailable int32
	// New is the ReplicaSet of the current template.
	New Set
	// Stable is the stable ReplicaSet; nil when there is none (or it is the
	// new one).
	Stable *Set
	// Others are the remaining ReplicaSets (older or intermediate versions).
	Others []Set
}

// Sizes are the ReplicaSets' next desired sizes.
type Sizes struct {
	New    int32
	Stable int32
	Others []int32
}

// Basic moves a canary without traffic routing one step towards the split
// that approximates the weight, as a rolling update would: never more than
// Replicas+MaxSurge pods desired in all, never fewer than
// Replicas-MaxUnavailable available once the scale-downs it asks for are
// done. Unavailable pods are removed first, as they cost no availability.
// Other ReplicaSets go to zero first, then the stable one (when the canary
// grows) or the canary (when it shrinks, as on abort).
func Basic(in BasicInput) Sizes {
	wantNew, wantStable := Approximate(in.Replicas, in.Weight, in.MaxSurge > 0)
	out := Sizes{New: in.New.Replicas, Others: make([]int32, len(in.Others))}
	for i, o := range in.Others {
		out.Others[i] = o.Replicas
	}
	if in.Stable == nil {
		// Nothing stable to keep: the new version takes every pod.
		wantNew, wantStable = in.Replicas, 0
	} else {
		out.Stable = in.Stable.Replicas
	}

	// Scale up within the surge, the growing side first.
	total := out.New + out.Stable
	for _, o := range out.Others {
		total += o
	}
	room := in.Replicas + in.MaxSurge - total
	grow := func(cur *int32, want int32) {
		if room > 0 && *cur < want {
			step := min(room, want-*cur)
			*cur += step
			room -= step
		}
	}
	grow(&out.New, wantNew)
	if in.Stable != nil {
		grow(&out.Stable, wantStable)
	}

	// Scale down what is over its target, keeping the minimum available.
	availableNow := in.New.available()
	if in.Stable != nil {
		availableNow += in.Stable.available()
	}
	for _, o := range in.Others {
		availableNow += o.available()
	}
	budget := availableNow - (in.Replicas - in.MaxUnavailable)
	shrink := func(cur *int32, set Set, want int32) {
		if *cur <= want {
			return
		}
		// The pods the set has above its target, unavailable ones first.
		excess := *cur - want
		free := min(excess, max(0, set.Replicas-set.available()))
		*cur -= free
		excess -= free
		if excess > 0 && budget > 0 {
			step := min(excess, budget)
			*cur -= step
			budget -= step
		}
	}
	for i, o := range in.Others {
		shrink(&out.Others[i], o, 0)
	}
	if in.Stable != nil && wantNew >= in.New.Replicas {
		shrink(&out.Stable, *in.Stable, wantStable)
	}
	shrink(&out.New, in.New, wantNew)
	if in.Stable != nil && wantNew < in.New.Replicas {
		shrink(&out.Stable, *in.Stable, wantStable)
	}
	return out
}

// RoutedInput is the state of a canary with traffic routing.
type RoutedInput struct {
	// Replicas is spec.replicas.
	Replicas int32
	// DesiredWeight is the canary weight the current step asks for;
	// ActualWeight the weight the routers were last given. Both are out of
	// MaxTrafficWeight (100 unless set).
	DesiredWeight, ActualWeight, MaxTrafficWeight int32
	// Scale is the setCanaryScale in force, or nil to size the canary by
	// its weight.
	Scale *CanaryScale
	// DynamicStableScale shrinks the stable ReplicaSet as traffic leaves it.
	DynamicStableScale bool
	// MinPodsPerReplicaSet is the fewest pods a non-empty ReplicaSet gets
	// (minPodsPerReplicaSet, default 1).
	MinPodsPerReplicaSet int32
}

// CanaryScale is a setCanaryScale step in force: a pod count or a share of
// spec.replicas.
type CanaryScale struct {
	Replicas *int32
	Weight   *int32
}

// Routed sizes the canary and stable ReplicaSets of a traffic-routed canary.
// The canary gets the share of replicas its weight (or setCanaryScale)
// says; the stable ReplicaSet stays at full size, or with
// dynamicStableScale shrinks to the share of traffic it still takes. While
// the weight moves, each side keeps the pods for the larger of the desired
// and the actual weight, so that traffic never reaches a side before its
// pods are there, nor leaves one after they are gone.
func Routed(in RoutedInput) (canary, stable int32) {
	maxWeight := in.MaxTrafficWeight
	if maxWeight <= 0 {
		maxWeight = 100
	}
	share := func(weight int32) int32 {
		return ceilShare(in.Replicas, max(0, min(weight, maxWeight)), maxWeight)
	}
	atLeast := func(n int32) int32 {
		if n > 0 && n < in.MinPodsPerReplicaSet {
			return in.MinPodsPerReplicaSet
		}
		return n
	}
	canaryWeight := max(in.DesiredWeight, in.ActualWeight)
	switch {
	case in.Scale != nil && in.Scale.Replicas != nil:
		canary = *in.Scale.Replicas
	case in.Scale != nil && in.Scale.Weight != nil:
		canary = ceilShare(in.Replicas, *in.Scale.Weight, 100)
	default:
		canary = share(canaryWeight)
	}
	stable = in.Replicas
	if in.DynamicStableScale {
		stable = share(maxWeight - min(in.DesiredWeight, in.ActualWeight))
	}
	return atLeast(canary), atLeast(stable)
}

// ceilShare is replicas*num/den, rounded up.
func ceilShare(replicas, num, den int32) int32 {
	return int32((int64(replicas)*int64(num) + int64(den) - 1) / int64(den))
}

// Threshold is how many of want pods must be available for a step to go on:
// all of them, unless replicaProgressThreshold (a pod count, or a
// percentage rounded up) asks for fewer; never fewer than one of a
// non-empty set.
func Threshold(want int32, t *v1alpha1.ReplicaProgressThreshold) int32 {
	if t == nil || want <= 0 {
		return max(want, 0)
	}
	n := t.Value
	if t.Type != v1alpha1.ProgressTypePods {
		n = ceilShare(want, t.Value, 100)
	}
	return max(1, min(n, want))
}
