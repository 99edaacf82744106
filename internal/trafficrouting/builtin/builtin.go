// Package builtin is the Factory of the routers built into ramp-controller:
// AWS ALB, Ambassador, APISIX, Gateway API, Istio, NGINX, SMI and Traefik.
// The others Argo Rollouts knows are refused with a message naming them:
// plugins (but Gateway API's), and App Mesh, which AWS discontinued.
package builtin

import (
	"context"
	"fmt"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/alb"
	"github.com/rampdev/ramp/internal/trafficrouting/ambassador"
	"github.com/rampdev/ramp/internal/trafficrouting/apisix"
	"github.com/rampdev/ramp/internal/trafficrouting/gatewayapi"
	"github.com/rampdev/ramp/internal/trafficrouting/istio"
	"github.com/rampdev/ramp/internal/trafficrouting/nginx"
	"github.com/rampdev/ramp/internal/trafficrouting/smi"
	"github.com/rampdev/ramp/internal/trafficrouting/traefik"
)

// AppMeshDiscontinued is why a Rollout routed through AWS App Mesh is
// InvalidSpec: the service no longer runs.
const AppMeshDiscontinued = "spec.strategy.canary.trafficRouting.appMesh: AWS discontinued App Mesh on 30 September 2026, so Ramp has no App Mesh router; on EKS route through Amazon VPC Lattice with the gatewayAPI router (AWS's Gateway API controller), or through an ALB"

// Factory builds a rollout's routers. Reader reads the objects routers
// route through, past the controller's cache (they are not Ramp's);
// Writer writes them.
type Factory struct {
	Reader ctrl.Reader
	Writer ctrl.Writer
	// ALB are the ALB router's controller-wide settings (Ingress classes,
	// weight verification).
	ALB alb.Options
	// IstioVersion is the networking.istio.io version of the Istio
	// router ("" is v1).
	IstioVersion string
	// TraefikVersion is the group/version of TraefikService ("" is
	// traefik.io/v1alpha1).
	TraefikVersion string
	// AmbassadorVersion is the group/version of Mapping ("" is
	// getambassador.io/v2).
	AmbassadorVersion string
}

var _ trafficrouting.Factory = Factory{}

// Routers builds one router per block set in trafficRouting.
func (f Factory) Routers(_ context.Context, ro *v1alpha1.Rollout) ([]trafficrouting.Router, error) {
	var out []trafficrouting.Router
	var missing []string
	for _, name := range trafficrouting.Names(ro) {
		switch name {
		case "alb":
			r, err := alb.New(f.Reader, f.Writer, ro, f.ALB)
			if err != nil {
				return nil, err
			}
			if f.ALB.Verifier != nil {
				out = append(out, r.Verifying(f.ALB.Verifier))
			} else {
				out = append(out, r)
			}
		case "gatewayAPI":
			r, err := gatewayapi.New(f.Reader, f.Writer, ro)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case "istio":
			r, err := istio.New(f.Reader, f.Writer, ro, f.IstioVersion)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case "smi":
			r, err := smi.New(f.Reader, f.Writer, ro, "")
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case "ambassador":
			r, err := ambassador.New(f.Reader, f.Writer, ro, f.AmbassadorVersion)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case "apisix":
			r, err := apisix.New(f.Reader, f.Writer, ro)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case "traefik":
			r, err := traefik.New(f.Reader, f.Writer, ro, f.TraefikVersion)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case "nginx":
			r, err := nginx.New(f.Reader, f.Writer, ro)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case "appMesh":
			return nil, &trafficrouting.SpecError{Msg: AppMeshDiscontinued}
		default:
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, &trafficrouting.SpecError{Msg: fmt.Sprintf("spec.strategy.canary.trafficRouting: the %s router is not available in this controller (built in: alb, ambassador, apisix, gatewayAPI, istio, nginx, smi, traefik)", strings.Join(missing, ", "))}
	}
	return out, nil
}
