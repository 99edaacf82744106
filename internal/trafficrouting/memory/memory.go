// Package memory is a traffic router that only remembers what it was told:
// the weights, hashes and routes a rollout's steps set. Tests of the Rollout
// reconciler read it to see what a real router would have been asked.
package memory

import (
	"context"
	"maps"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// Factory hands each rollout its own Router and keeps them for tests.
type Factory struct {
	mu      sync.Mutex
	routers map[types.NamespacedName]*Router
}

var _ trafficrouting.Factory = (*Factory)(nil)

// Routers returns the rollout's one in-memory router.
func (f *Factory) Routers(_ context.Context, ro *v1alpha1.Rollout) ([]trafficrouting.Router, error) {
	return []trafficrouting.Router{f.For(types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name})}, nil
}

// For is the router of the rollout key, created on first use.
func (f *Factory) For(key types.NamespacedName) *Router {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.routers == nil {
		f.routers = map[types.NamespacedName]*Router{}
	}
	r, ok := f.routers[key]
	if !ok {
		r = &Router{verified: true, headers: map[string]*v1alpha1.SetHeaderRoute{}, mirrors: map[string]*v1alpha1.SetMirrorRoute{}}
		f.routers[key] = r
	}
	return r
}

// Router records what it is told. It implements every capability.
type Router struct {
	mu         sync.Mutex
	weight     int32
	history    []int32
	calls      int
	canaryHash string
	stableHash string
	headers    map[string]*v1alpha1.SetHeaderRoute
	mirrors    map[string]*v1alpha1.SetMirrorRoute
	verified   bool
	fail       error
	dests      map[string]int32
}

var (
	_ trafficrouting.Router         = (*Router)(nil)
	_ trafficrouting.HeaderRouter   = (*Router)(nil)
	_ trafficrouting.MirrorRouter   = (*Router)(nil)
	_ trafficrouting.WeightVerifier = (*Router)(nil)

	_ trafficrouting.DestinationRouter = (*Router)(nil)
)

// Type is "memory".
func (r *Router) Type() string { return "memory" }

// UpdateHash records the hashes.
func (r *Router) UpdateHash(_ context.Context, canaryHash, stableHash string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.canaryHash, r.stableHash = canaryHash, stableHash
	return nil
}

// SetWeight records the weight; History keeps each change.
func (r *Router) SetWeight(ctx context.Context, weight int32) error {
	return r.SetWeightAndDestinations(ctx, weight, nil)
}

// SetWeightAndDestinations records the weight and the additional
// destinations.
func (r *Router) SetWeightAndDestinations(_ context.Context, weight int32, destinations []v1alpha1.WeightDestination) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.dests = map[string]int32{}
	for _, d := range destinations {
		r.dests[d.ServiceName] = d.Weight
	}
	r.calls++
	if len(r.history) == 0 || r.weight != weight {
		r.history = append(r.history, weight)
	}
	r.weight = weight
	return nil
}

// SetHeaderRoute records (or, with no match, removes) a header route.
func (r *Router) SetHeaderRoute(_ context.Context, route *v1alpha1.SetHeaderRoute) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(route.Match) == 0 {
		delete(r.headers, route.Name)
	} else {
		r.headers[route.Name] = route.DeepCopy()
	}
	return nil
}

// SetMirrorRoute records (or, with no match, removes) a mirror route.
func (r *Router) SetMirrorRoute(_ context.Context, route *v1alpha1.SetMirrorRoute) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(route.Match) == 0 {
		delete(r.mirrors, route.Name)
	} else {
		r.mirrors[route.Name] = route.DeepCopy()
	}
	return nil
}

// RemoveManagedRoutes forgets every header and mirror route.
func (r *Router) RemoveManagedRoutes(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.headers)
	clear(r.mirrors)
	return nil
}

// VerifyWeight answers what SetVerified last said (true at first).
func (r *Router) VerifyWeight(context.Context, int32) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.verified, nil
}

// SetVerified makes VerifyWeight answer v, as a load balancer that has (or
// has not yet) applied the weight.
func (r *Router) SetVerified(v bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verified = v
}

// Fail makes SetWeight fail with err until Fail(nil): a load balancer's
// API that is down.
func (r *Router) Fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

// Weight is the canary weight last set.
func (r *Router) Weight() int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.weight
}

// Destinations are the additional destinations' weights, by Service.
func (r *Router) Destinations() map[string]int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.dests)
}

// Calls counts the SetWeight calls, changes or not.
func (r *Router) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// History lists the weights set, each change once.
func (r *Router) History() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.history)
}

// Hashes are the canary and stable hashes last given.
func (r *Router) Hashes() (canary, stable string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.canaryHash, r.stableHash
}

// Routes lists the header and mirror routes in place, by name.
func (r *Router) Routes() (headers, mirrors []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n := range r.headers {
		headers = append(headers, n)
	}
	for n := range r.mirrors {
		mirrors = append(mirrors, n)
	}
	slices.Sort(headers)
	slices.Sort(mirrors)
	return headers, mirrors
}
