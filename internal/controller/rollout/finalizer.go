package rollout

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// RoutingFinalizer holds a deleted Rollout with traffic routing until its
// routers send everything back to the stable Service: a load balancer is
// never left weighting a canary that no longer exists.
const RoutingFinalizer = "ramp.dev/traffic-routing"

func routed(ro *v1alpha1.Rollout) bool {
	c := ro.Spec.Strategy.Canary
	return c != nil && c.TrafficRouting != nil
}

// ensureFinalizer adds the finalizer to a routed rollout (and takes it off
// one that no longer routes). It reports whether it wrote.
func (r *Reconciler) ensureFinalizer(ctx context.Context, ro *v1alpha1.Rollout) (bool, error) {
	want := routed(ro)
	if controllerutil.ContainsFinalizer(ro, RoutingFinalizer) == want {
		return false, nil
	}
	patched := ro.DeepCopy()
	if want {
		controllerutil.AddFinalizer(patched, RoutingFinalizer)
	} else {
		controllerutil.RemoveFinalizer(patched, RoutingFinalizer)
	}
	if err := r.Client.Patch(ctx, patched, mergeFrom(ro)); err != nil {
		return false, fmt.Errorf("updating the finalizers: %w", err)
	}
	return true, nil
}

// finalize resets a deleted rollout's routers to stable, then lets it go.
// A router whose objects are gone has nothing to reset.
func (r *Reconciler) finalize(ctx context.Context, ro *v1alpha1.Rollout) error {
	if !controllerutil.ContainsFinalizer(ro, RoutingFinalizer) {
		return nil
	}
	if routed(ro) {
		routers, err := r.routers().Routers(ctx, ro)
		if err == nil {
			for _, rt := range routers {
				if err := rt.SetWeight(ctx, 0); err != nil {
					r.eventf(ro, "Warning", "TrafficRoutingReset", "%s router: could not reset to stable: %v", rt.Type(), err)
					continue
				}
				if err := rt.RemoveManagedRoutes(ctx); err != nil {
					r.eventf(ro, "Warning", "TrafficRoutingReset", "%s router: could not remove managed routes: %v", rt.Type(), err)
				}
			}
		}
	}
	patched := ro.DeepCopy()
	controllerutil.RemoveFinalizer(patched, RoutingFinalizer)
	return r.Client.Patch(ctx, patched, mergeFrom(ro))
}

func (r *Reconciler) eventf(ro *v1alpha1.Rollout, kind, reason, format string, args ...any) {
	if r.Events != nil {
		r.Events.Eventf(ro, nil, kind, reason, reason, format, args...)
	}
}
