package trafficrouting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Router sends a share of a rollout's traffic to its canary.
type Router interface {
	// Type names the router: "alb", "nginx", "gatewayAPI"...
	Type() string
	// UpdateHash tells the router the pod-template hashes behind the canary
	// and the stable destinations, for routers that split by subset rather
	// than by Service.
	UpdateHash(ctx context.Context, canaryHash, stableHash string) error
	// SetWeight sends weight (out of trafficRouting.maxTrafficWeight) to
	// the canary and the rest to the stable version. It is idempotent.
	SetWeight(ctx context.Context, weight int32) error
	// RemoveManagedRoutes removes the header and mirror routes the steps
	// added, at the end of an update or on abort.
	RemoveManagedRoutes(ctx context.Context) error
}

// HeaderRouter is a Router that can send requests matching headers to the
// canary (setHeaderRoute). An empty match removes the route.
type HeaderRouter interface {
	SetHeaderRoute(ctx context.Context, route *v1alpha1.SetHeaderRoute) error
}

// MirrorRouter is a Router that can mirror requests to the canary
// (setMirrorRoute). An empty match removes the route.
type MirrorRouter interface {
	SetMirrorRoute(ctx context.Context, route *v1alpha1.SetMirrorRoute) error
}

// DestinationRouter is a Router that can send part of the traffic to
// destinations besides the canary and the stable version: the Services of
// weighted experiment templates. weight goes to the canary, each
// destination's weight to its Service, and the rest to the stable version;
// without destinations it is SetWeight. It is idempotent.
type DestinationRouter interface {
	SetWeightAndDestinations(ctx context.Context, weight int32, destinations []v1alpha1.WeightDestination) error
}

// WeightVerifier is a Router that can tell whether the load balancer
// really applies the weight it was given. The rollout waits until it does.
type WeightVerifier interface {
	VerifyWeight(ctx context.Context, weight int32) (bool, error)
}

// LoadBalancerStatus is a Router that found, while verifying, the cloud
// load balancers and target groups behind its objects (ALB): the rollout
// shows them in status.alb / status.albs.
type LoadBalancerStatus interface {
	LoadBalancers() []v1alpha1.ALBStatus
}

// Factory builds the routers of a rollout's spec.strategy.canary.trafficRouting.
type Factory interface {
	Routers(ctx context.Context, ro *v1alpha1.Rollout) ([]Router, error)
}

// SpecError is a Factory's complaint about the spec (a router that is not
// available, a block it cannot use); the rollout reports it as InvalidSpec.
type SpecError struct{ Msg string }

func (e *SpecError) Error() string { return e.Msg }

// IsSpecError reports whether err is a SpecError.
func IsSpecError(err error) bool {
	var s *SpecError
	return errors.As(err, &s)
}

// ErrMissing is wrapped by a router's error when an object it routes
// through (an Ingress, a route, a DestinationRule) does not exist. When a
// rollout is deleted, such a router has nothing to reset.
var ErrMissing = errors.New("not found")

// None is the Factory of a controller without routers: any trafficRouting
// block is refused with a message naming it.
type None struct{}

// Routers refuses every router.
func (None) Routers(_ context.Context, ro *v1alpha1.Rollout) ([]Router, error) {
	return nil, &SpecError{Msg: fmt.Sprintf("spec.strategy.canary.trafficRouting: no traffic router is available in this controller yet (%s)", strings.Join(Names(ro), ", "))}
}

// Services are the stable and canary Services of ro: canaryService and
// stableService, or with pingPong whichever of ping and pong
// status.canary.stablePingPong says is stable (ping at first), and the
// other.
func Services(ro *v1alpha1.Rollout) (stable, canary string) {
	c := ro.Spec.Strategy.Canary
	if c == nil {
		return "", ""
	}
	if pp := c.PingPong; pp != nil {
		if ro.Status.Canary.StablePingPong == v1alpha1.PPPong {
			return pp.PongService, pp.PingService
		}
		return pp.PingService, pp.PongService
	}
	return c.StableService, c.CanaryService
}

// TargetVerifier checks that a load balancer's target groups have
// registered the pods a Service selects, after its selector changed
// (ALB TargetGroupBindings in IP mode). The old version is scaled down
// only once they have. why says what is still missing.
type TargetVerifier interface {
	VerifyTargets(ctx context.Context, svc *corev1.Service) (ok bool, why string, err error)
}

// Names lists the routers a rollout's trafficRouting block sets.
func Names(ro *v1alpha1.Rollout) []string {
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil {
		return nil
	}
	tr := c.TrafficRouting
	var out []string
	for name, set := range map[string]bool{
		"alb": tr.ALB != nil, "nginx": tr.Nginx != nil, "istio": tr.Istio != nil, "smi": tr.SMI != nil,
		"gatewayAPI": tr.GatewayAPI != nil, "ambassador": tr.Ambassador != nil, "appMesh": tr.AppMesh != nil,
		"traefik": tr.Traefik != nil, "apisix": tr.Apisix != nil, "plugins": len(tr.Plugins) > 0,
	} {
		if set {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
