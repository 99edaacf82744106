package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// RoutingFinalizer and RoutingAnnotation are v1alpha1's: the finalizer
// that holds a deleted routed Rollout until its routers are reset, and the
// record of the routing it was added for.
const (
	RoutingFinalizer  = v1alpha1.RoutingFinalizer
	RoutingAnnotation = v1alpha1.RoutingAnnotation
)

// routing is what RoutingAnnotation holds.
type routing struct {
	TrafficRouting *v1alpha1.RolloutTrafficRouting `json:"trafficRouting"`
	CanaryService  string                          `json:"canaryService,omitempty"`
	StableService  string                          `json:"stableService,omitempty"`
	PingPong       *v1alpha1.PingPongSpec          `json:"pingPong,omitempty"`
}

func routed(ro *v1alpha1.Rollout) bool {
	c := ro.Spec.Strategy.Canary
	return c != nil && c.TrafficRouting != nil
}

// routingRecord is the annotation's value for ro's spec ("" when it does
// not route).
func routingRecord(ro *v1alpha1.Rollout) string {
	if !routed(ro) {
		return ""
	}
	c := ro.Spec.Strategy.Canary
	b, err := json.Marshal(routing{TrafficRouting: c.TrafficRouting, CanaryService: c.CanaryService, StableService: c.StableService, PingPong: c.PingPong})
	if err != nil {
		return "" // cannot happen for these types
	}
	return string(b)
}

// recordedRouting is ro as it was when its routing was recorded: its spec
// with the recorded routing in place of the present one. Without a record
// (or one that does not parse) it is ro itself.
func recordedRouting(ro *v1alpha1.Rollout) *v1alpha1.Rollout {
	var rec routing
	if err := json.Unmarshal([]byte(ro.Annotations[RoutingAnnotation]), &rec); err != nil || rec.TrafficRouting == nil {
		return ro
	}
	out := ro.DeepCopy()
	if out.Spec.Strategy.Canary == nil {
		out.Spec.Strategy = v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}}
	}
	c := out.Spec.Strategy.Canary
	c.TrafficRouting, c.CanaryService, c.StableService, c.PingPong = rec.TrafficRouting, rec.CanaryService, rec.StableService, rec.PingPong
	return out
}

// ensureFinalizer adds the finalizer (and the routing record) to a routed
// rollout, and keeps the record current. A rollout that no longer routes
// has its routers reset to stable, from the record, before both go. Every
// write is conditional on the rollout read, so a finalizer someone else
// added meanwhile is never dropped. It reports whether it wrote.
func (r *Reconciler) ensureFinalizer(ctx context.Context, ro *v1alpha1.Rollout) (bool, error) {
	want := routingRecord(ro)
	has := controllerutil.ContainsFinalizer(ro, RoutingFinalizer)
	switch {
	case want != "" && has && ro.Annotations[RoutingAnnotation] == want:
		return false, nil
	case want == "" && !has:
		return false, nil
	case want == "":
		// trafficRouting was removed from the spec: the routers it named
		// are reset before the finalizer goes.
		if err := r.resetRouters(ctx, recordedRouting(ro)); err != nil {
			return false, err
		}
	}
	patched := ro.DeepCopy()
	if want != "" {
		controllerutil.AddFinalizer(patched, RoutingFinalizer)
		if patched.Annotations == nil {
			patched.Annotations = map[string]string{}
		}
		patched.Annotations[RoutingAnnotation] = want
	} else {
		controllerutil.RemoveFinalizer(patched, RoutingFinalizer)
		delete(patched.Annotations, RoutingAnnotation)
	}
	if err := r.Client.Patch(ctx, patched, lockedMergeFrom(ro)); err != nil {
		return false, fmt.Errorf("updating the finalizers: %w", err)
	}
	return true, nil
}

// finalize resets a deleted rollout's routers to stable, then lets it go.
// A router that cannot be reset now (its API down) keeps the finalizer and
// the rollout is tried again with backoff; a router whose objects are gone
// has nothing to reset. `ramp remove-finalizer` is the way out when the
// controller will never do it (uninstalled).
func (r *Reconciler) finalize(ctx context.Context, ro *v1alpha1.Rollout) error {
	if !controllerutil.ContainsFinalizer(ro, RoutingFinalizer) {
		return nil
	}
	if err := r.resetRouters(ctx, recordedRouting(ro)); err != nil {
		return err
	}
	patched := ro.DeepCopy()
	controllerutil.RemoveFinalizer(patched, RoutingFinalizer)
	delete(patched.Annotations, RoutingAnnotation)
	return ctrl.IgnoreNotFound(r.Client.Patch(ctx, patched, lockedMergeFrom(ro)))
}

// errRoutersNotReset keeps a finalizer until the routers are reset.
var errRoutersNotReset = errors.New("the traffic routers could not be reset to stable; retrying")

// resetRouters sends all of ro's traffic to its stable Service and removes
// the routes its steps added. A router whose objects are missing is done;
// any other failure is an event and an error (retried). A routing the
// factory refuses (a router this controller does not run) never sent
// traffic anywhere: there is nothing to reset.
func (r *Reconciler) resetRouters(ctx context.Context, ro *v1alpha1.Rollout) error {
	if !routed(ro) {
		return nil
	}
	ro = ro.DeepCopy()
	_ = resolvePlugins(ro) // a record made before the plugin form was resolved
	routers, err := r.routers().Routers(ctx, ro)
	if trafficrouting.IsSpecError(err) {
		return nil
	}
	if err != nil {
		r.eventf(ro, corev1.EventTypeWarning, "TrafficRoutingReset", "could not build the traffic routers to reset them to stable: %v", err)
		return fmt.Errorf("%w: %v", errRoutersNotReset, err)
	}
	failed := false
	for _, rt := range routers {
		err := rt.SetWeight(ctx, 0)
		if err == nil {
			err = rt.RemoveManagedRoutes(ctx)
		}
		if err != nil && !errors.Is(err, trafficrouting.ErrMissing) {
			r.eventf(ro, corev1.EventTypeWarning, "TrafficRoutingReset", "%s router: could not reset to stable: %v", rt.Type(), err)
			failed = true
		}
	}
	if failed {
		return errRoutersNotReset
	}
	return nil
}

// lockedMergeFrom is a merge patch from ro that the API server applies only
// to the resourceVersion read.
func lockedMergeFrom(ro *v1alpha1.Rollout) ctrl.Patch {
	return ctrl.MergeFromWithOptions(ro, ctrl.MergeFromWithOptimisticLock{})
}

func (r *Reconciler) eventf(ro *v1alpha1.Rollout, kind, reason, format string, args ...any) {
	if r.Events != nil {
		r.Events.Eventf(ro, nil, kind, reason, reason, format, args...)
	}
}
