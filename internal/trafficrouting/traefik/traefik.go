package traefik

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// DefaultAPIVersion is the TraefikService API of Traefik v2.10 and later;
// APIVersions are those the router can use (--traefik-api-version):
// traefik.containo.us is the group of Traefik before v2.10 (and Argo
// Rollouts' default).
const DefaultAPIVersion = "traefik.io/v1alpha1"

// APIVersions the router can use.
var APIVersions = []string{DefaultAPIVersion, "traefik.containo.us/v1alpha1"}

// Router weights one rollout's TraefikService.
type Router struct {
	reader    ctrl.Reader
	writer    ctrl.Writer
	gvk       schema.GroupVersionKind
	namespace string
	name      string
	stable    string
	canary    string
	maxWeight int32
}

var _ trafficrouting.Router = (*Router)(nil)

// New is the router of ro's trafficRouting.traefik, at apiVersion (one of
// APIVersions; "" is DefaultAPIVersion).
func New(reader ctrl.Reader, writer ctrl.Writer, ro *v1alpha1.Rollout, apiVersion string) (*Router, error) {
	if apiVersion == "" {
		apiVersion = DefaultAPIVersion
	}
	if !slices.Contains(APIVersions, apiVersion) {
		return nil, fmt.Errorf("traefik API version %q: must be one of %s", apiVersion, strings.Join(APIVersions, ", "))
	}
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil || c.TrafficRouting.Traefik == nil {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary.trafficRouting.traefik is not set"}
	}
	if c.StableService == "" || c.CanaryService == "" {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary: the traefik router needs canaryService and stableService"}
	}
	gv, _ := schema.ParseGroupVersion(apiVersion)
	return &Router{reader: reader, writer: writer, gvk: gv.WithKind("TraefikService"), namespace: ro.Namespace,
		name: c.TrafficRouting.Traefik.WeightedTraefikServiceName, stable: c.StableService, canary: c.CanaryService,
		maxWeight: c.GetMaxTrafficWeight()}, nil
}

// Type is "traefik".
func (r *Router) Type() string { return "traefik" }

// UpdateHash has nothing to do: the TraefikService names Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// RemoveManagedRoutes has nothing to remove.
func (r *Router) RemoveManagedRoutes(context.Context) error { return nil }

// SetWeight gives the canary Service weight and the stable one the rest of
// maxTrafficWeight; it writes only when a weight differs.
func (r *Router) SetWeight(ctx context.Context, weight int32) error {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.gvk)
	if err := r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.namespace, Name: r.name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("TraefikService %q %w in namespace %s", r.name, trafficrouting.ErrMissing, r.namespace)
		}
		return fmt.Errorf("reading TraefikService %s: %w", r.name, err)
	}
	services, _, err := unstructured.NestedSlice(obj.Object, "spec", "weighted", "services")
	if err != nil || len(services) == 0 {
		return fmt.Errorf("TraefikService %s/%s has no spec.weighted.services", r.namespace, r.name)
	}
	changed := false
	for _, want := range []struct {
		service string
		weight  int32
	}{{r.stable, r.maxWeight - weight}, {r.canary, weight}} {
		svc := find(services, want.service)
		if svc == nil {
			return fmt.Errorf("TraefikService %s/%s: spec.weighted.services has no Service %s", r.namespace, r.name, want.service)
		}
		if cur, ok := svc["weight"].(int64); !ok || cur != int64(want.weight) {
			svc["weight"] = int64(want.weight)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := unstructured.SetNestedSlice(obj.Object, services, "spec", "weighted", "services"); err != nil {
		return err
	}
	if err := r.writer.Update(ctx, obj); err != nil {
		return fmt.Errorf("updating TraefikService %s: %w", r.name, err)
	}
	return nil
}

// find is the entry of services that names the Kubernetes Service name
// (not a TraefikService of that name).
func find(services []any, name string) map[string]any {
	for _, x := range services {
		svc, ok := x.(map[string]any)
		if !ok {
			continue
		}
		if kind, _ := svc["kind"].(string); kind != "" && kind != "Service" {
			continue
		}
		if n, _ := svc["name"].(string); n == name {
			return svc
		}
	}
	return nil
}
