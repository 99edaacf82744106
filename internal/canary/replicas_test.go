package canary

import (
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func TestLimits(t *testing.T) {
	for _, c := range []struct {
		replicas            int32
		surge, unavail      intstr.IntOrString
		wantSurge, wantUnav int32
	}{
		{4, intstr.FromString("25%"), intstr.FromString("25%"), 1, 1},
		{10, intstr.FromString("25%"), intstr.FromString("25%"), 3, 2}, // surge rounds up, unavailable down
		{1, intstr.FromString("25%"), intstr.FromString("25%"), 1, 0},
		{3, intstr.FromInt32(0), intstr.FromString("10%"), 0, 1}, // both 0: one may be unavailable
		{0, intstr.FromString("25%"), intstr.FromString("25%"), 0, 1},
		{5, intstr.FromInt32(2), intstr.FromInt32(0), 2, 0},
	} {
		s, u, err := Limits(c.replicas, c.surge, c.unavail)
		if err != nil || s != c.wantSurge || u != c.wantUnav {
			t.Errorf("Limits(%d, %s, %s) = %d, %d, %v; want %d, %d", c.replicas, c.surge.String(), c.unavail.String(), s, u, err, c.wantSurge, c.wantUnav)
		}
	}
}

func TestApproximate(t *testing.T) {
	for _, c := range []struct {
		replicas, weight int32
		surge            bool
		canary, stable   int32
	}{
		{0, 50, true, 0, 0},
		{10, 0, true, 0, 10},
		{10, 100, true, 10, 0},
		{10, 20, true, 2, 8},
		{10, 20, false, 2, 8},
		{10, 25, true, 3, 8},  // 27% with one pod over beats 20% or 30%
		{10, 25, false, 3, 7}, // a tie: the larger canary
		{4, 20, true, 1, 4},   // 20% exactly with one pod over
		{4, 20, false, 1, 3},
		{5, 50, true, 3, 3},
		{5, 50, false, 3, 2},
		{3, 33, true, 1, 2},
		{3, 50, true, 2, 2},
		{1, 20, true, 1, 1}, // one replica: a canary pod beside the stable one
		{1, 50, true, 1, 1},
		{1, 80, true, 1, 1},
		{1, 20, false, 0, 1}, // one pod and no surge: the nearer side
		{1, 50, false, 1, 0},
		{2, 10, true, 1, 2},
		{2, 95, false, 1, 1}, // both sides keep a pod
		{7, 60, true, 5, 3},
	} {
		gotC, gotS := Approximate(c.replicas, c.weight, c.surge)
		if gotC != c.canary || gotS != c.stable {
			t.Errorf("Approximate(%d, %d%%, surge=%v) = %d canary, %d stable; want %d, %d", c.replicas, c.weight, c.surge, gotC, gotS, c.canary, c.stable)
		}
	}
}

func TestBasicStepsWithinTheLimits(t *testing.T) {
	stable := func(replicas, available int32) *Set { return &Set{Replicas: replicas, Available: available} }
	for _, c := range []struct {
		name string
		in   BasicInput
		want Sizes
	}{
		{"first step: canary up, stable down, both within the limits", BasicInput{Replicas: 4, Weight: 25, MaxSurge: 1, MaxUnavailable: 1, New: Set{}, Stable: stable(4, 4)}, Sizes{New: 1, Stable: 3, Others: []int32{}}},
		{"maxUnavailable 0: stable waits for the canary", BasicInput{Replicas: 4, Weight: 25, MaxSurge: 1, MaxUnavailable: 0, New: Set{}, Stable: stable(4, 4)}, Sizes{New: 1, Stable: 4, Others: []int32{}}},
		{"maxUnavailable 0: canary available, stable to its share", BasicInput{Replicas: 4, Weight: 25, MaxSurge: 1, MaxUnavailable: 0, New: Set{1, 1}, Stable: stable(4, 4)}, Sizes{New: 1, Stable: 3, Others: []int32{}}},
		{"at the split: nothing moves", BasicInput{Replicas: 4, Weight: 25, MaxSurge: 1, MaxUnavailable: 1, New: Set{1, 1}, Stable: stable(3, 3)}, Sizes{New: 1, Stable: 3, Others: []int32{}}},
		{"maxSurge 0: stable first, within maxUnavailable", BasicInput{Replicas: 4, Weight: 50, MaxSurge: 0, MaxUnavailable: 1, New: Set{}, Stable: stable(4, 4)}, Sizes{New: 0, Stable: 3, Others: []int32{}}},
		{"maxSurge 0: then the canary takes the room", BasicInput{Replicas: 4, Weight: 50, MaxSurge: 0, MaxUnavailable: 1, New: Set{}, Stable: stable(3, 3)}, Sizes{New: 1, Stable: 3, Others: []int32{}}},
		{"maxUnavailable 0: waits for the canary", BasicInput{Replicas: 4, Weight: 50, MaxSurge: 1, MaxUnavailable: 0, New: Set{1, 0}, Stable: stable(4, 4)}, Sizes{New: 1, Stable: 4, Others: []int32{}}},
		{"unready stable pods go first, for free", BasicInput{Replicas: 4, Weight: 50, MaxSurge: 1, MaxUnavailable: 0, New: Set{1, 0}, Stable: stable(4, 2)}, Sizes{New: 1, Stable: 2, Others: []int32{}}},
		{"no stable: the new version takes every pod", BasicInput{Replicas: 3, Weight: 20, MaxSurge: 1, MaxUnavailable: 0, New: Set{}}, Sizes{New: 3, Others: []int32{}}},
		{"zero replicas", BasicInput{Replicas: 0, Weight: 50, MaxSurge: 0, MaxUnavailable: 1, New: Set{1, 1}, Stable: stable(1, 1)}, Sizes{New: 0, Stable: 0, Others: []int32{}}},
		{"abort: the canary shrinks, the stable grows back", BasicInput{Replicas: 4, Weight: 0, MaxSurge: 1, MaxUnavailable: 1, New: Set{2, 2}, Stable: stable(2, 2)}, Sizes{New: 1, Stable: 3, Others: []int32{}}},
		{"an intermediate version goes first", BasicInput{Replicas: 4, Weight: 25, MaxSurge: 1, MaxUnavailable: 1, New: Set{}, Stable: stable(3, 3), Others: []Set{{1, 1}}}, Sizes{New: 1, Stable: 3, Others: []int32{0}}},
		{"one replica at 50%: one pod each", BasicInput{Replicas: 1, Weight: 50, MaxSurge: 1, MaxUnavailable: 0, New: Set{}, Stable: stable(1, 1)}, Sizes{New: 1, Stable: 1, Others: []int32{}}},
		{"resized mid-rollout: 4 to 8 at 25%", BasicInput{Replicas: 8, Weight: 25, MaxSurge: 2, MaxUnavailable: 2, New: Set{1, 1}, Stable: stable(3, 3)}, Sizes{New: 2, Stable: 6, Others: []int32{}}},
		{"resized down mid-rollout: 8 to 4 at 25%", BasicInput{Replicas: 4, Weight: 25, MaxSurge: 1, MaxUnavailable: 1, New: Set{2, 2}, Stable: stable(6, 6)}, Sizes{New: 1, Stable: 3, Others: []int32{}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Basic(c.in); got.New != c.want.New || got.Stable != c.want.Stable || !slices.Equal(got.Others, c.want.Others) {
				t.Errorf("Basic = %+v, want %+v", got, c.want)
			}
		})
	}
}

// Driving Basic to the end from every size and weight: it always arrives at
// the approximated split, and never breaks maxSurge or maxUnavailable.
func TestBasicConvergesWithinTheLimits(t *testing.T) {
	for replicas := int32(0); replicas <= 7; replicas++ {
		for _, weight := range []int32{0, 10, 20, 33, 50, 80, 100} {
			for _, lim := range [][2]int32{{0, 1}, {1, 0}, {1, 1}, {2, 0}, {0, 2}} {
				name := fmt.Sprintf("%d replicas, %d%%, surge %d, unavailable %d", replicas, weight, lim[0], lim[1])
				in := BasicInput{Replicas: replicas, Weight: weight, MaxSurge: lim[0], MaxUnavailable: lim[1], Stable: &Set{replicas, replicas}, Others: []Set{{1, 1}}}
				wantNew, wantStable := Approximate(replicas, weight, lim[0] > 0)
				for round := 0; ; round++ {
					if round > 50 {
						t.Fatalf("%s: no convergence, at %+v", name, in)
					}
					out := Basic(in)
					total := out.New + out.Stable + out.Others[0]
					if total > max(replicas+lim[0], in.New.Replicas+in.Stable.Replicas+in.Others[0].Replicas) {
						t.Fatalf("%s: %d pods desired, over the surge", name, total)
					}
					// Pods that stay available once the scale-downs are done.
					avail := min(in.New.Available, out.New) + min(in.Stable.Available, out.Stable) + min(in.Others[0].Available, out.Others[0])
					before := in.New.Available + in.Stable.Available + in.Others[0].Available
					if avail < min(before, replicas-lim[1]) {
						t.Fatalf("%s: %d available after %+v, under the minimum %d", name, avail, out, replicas-lim[1])
					}
					if out.New == in.New.Replicas && out.Stable == in.Stable.Replicas && out.Others[0] == in.Others[0].Replicas {
						if out.New != wantNew || out.Stable != wantStable || out.Others[0] != 0 {
							t.Fatalf("%s: stuck at %+v, want %d/%d", name, out, wantNew, wantStable)
						}
						break
					}
					// The cluster makes every desired pod available.
					in.New = Set{out.New, out.New}
					in.Stable = &Set{out.Stable, out.Stable}
					in.Others = []Set{{out.Others[0], out.Others[0]}}
				}
			}
		}
	}
}

func TestRouted(t *testing.T) {
	for _, c := range []struct {
		name           string
		in             RoutedInput
		canary, stable int32
	}{
		{"weight 20 of 10", RoutedInput{Replicas: 10, DesiredWeight: 20, ActualWeight: 20}, 2, 10},
		{"rounds up", RoutedInput{Replicas: 3, DesiredWeight: 10, ActualWeight: 10}, 1, 3},
		{"one replica", RoutedInput{Replicas: 1, DesiredWeight: 5, ActualWeight: 0}, 1, 1},
		{"zero replicas", RoutedInput{Replicas: 0, DesiredWeight: 50, ActualWeight: 50}, 0, 0},
		{"maxTrafficWeight 1000", RoutedInput{Replicas: 10, DesiredWeight: 250, ActualWeight: 250, MaxTrafficWeight: 1000}, 3, 10},
		{"setCanaryScale replicas", RoutedInput{Replicas: 10, DesiredWeight: 0, Scale: &CanaryScale{Replicas: ptr.To[int32](4)}}, 4, 10},
		{"setCanaryScale weight", RoutedInput{Replicas: 10, DesiredWeight: 5, Scale: &CanaryScale{Weight: ptr.To[int32](50)}}, 5, 10},
		{"dynamicStableScale follows the traffic", RoutedInput{Replicas: 10, DesiredWeight: 40, ActualWeight: 40, DynamicStableScale: true}, 4, 6},
		{"dynamicStableScale: stable keeps its pods until traffic leaves", RoutedInput{Replicas: 10, DesiredWeight: 40, ActualWeight: 20, DynamicStableScale: true}, 4, 8},
		{"abort with dynamicStableScale: stable back first", RoutedInput{Replicas: 10, DesiredWeight: 0, ActualWeight: 60, DynamicStableScale: true}, 6, 10},
		{"minPodsPerReplicaSet", RoutedInput{Replicas: 10, DesiredWeight: 5, ActualWeight: 5, MinPodsPerReplicaSet: 2}, 2, 10},
		{"minPodsPerReplicaSet on a dynamic stable", RoutedInput{Replicas: 10, DesiredWeight: 95, ActualWeight: 95, DynamicStableScale: true, MinPodsPerReplicaSet: 2}, 10, 2},
		{"full weight, dynamic: stable empties", RoutedInput{Replicas: 4, DesiredWeight: 100, ActualWeight: 100, DynamicStableScale: true}, 4, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if gotC, gotS := Routed(c.in); gotC != c.canary || gotS != c.stable {
				t.Errorf("Routed = %d canary, %d stable; want %d, %d", gotC, gotS, c.canary, c.stable)
			}
		})
	}
}

func TestThreshold(t *testing.T) {
	for _, c := range []struct {
		want int32
		t    *v1alpha1.ReplicaProgressThreshold
		need int32
	}{
		{5, nil, 5},
		{0, nil, 0},
		{10, &v1alpha1.ReplicaProgressThreshold{Type: v1alpha1.ProgressTypePercent, Value: 50}, 5},
		{5, &v1alpha1.ReplicaProgressThreshold{Type: v1alpha1.ProgressTypePercent, Value: 50}, 3}, // rounded up
		{5, &v1alpha1.ReplicaProgressThreshold{Type: v1alpha1.ProgressTypePercent, Value: 1}, 1},
		{5, &v1alpha1.ReplicaProgressThreshold{Type: v1alpha1.ProgressTypePods, Value: 2}, 2},
		{1, &v1alpha1.ReplicaProgressThreshold{Type: v1alpha1.ProgressTypePods, Value: 3}, 1}, // never more than wanted
		{0, &v1alpha1.ReplicaProgressThreshold{Type: v1alpha1.ProgressTypePods, Value: 3}, 0},
	} {
		if got := Threshold(c.want, c.t); got != c.need {
			t.Errorf("Threshold(%d, %+v) = %d, want %d", c.want, c.t, got, c.need)
		}
	}
}
