// Package nginx is the NGINX Ingress traffic router: for each stable
// Ingress it owns a canary Ingress (<rollout>-<ingress>-canary, the same
// rules with the canary Service) that ingress-nginx reads through its
// canary annotations. The stable Ingress is read, never written.
package nginx

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// DefaultAnnotationPrefix is ingress-nginx's annotation prefix.
const DefaultAnnotationPrefix = "nginx.ingress.kubernetes.io"

// Router routes one rollout through NGINX canary Ingresses.
type Router struct {
	reader    ctrl.Reader
	writer    ctrl.Writer
	ro        *v1alpha1.Rollout
	cfg       *v1alpha1.NginxTrafficRouting
	stable    string
	canary    string
	maxWeight *int32
}

var _ trafficrouting.Router = (*Router)(nil)

// New is the router of ro's trafficRouting.nginx. Stable Ingresses are read
// with reader (uncached); canary Ingresses are written with writer.
func New(reader ctrl.Reader, writer ctrl.Writer, ro *v1alpha1.Rollout) (*Router, error) {
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil || c.TrafficRouting.Nginx == nil {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary.trafficRouting.nginx is not set"}
	}
	if c.StableService == "" || c.CanaryService == "" {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary: the nginx router needs canaryService and stableService"}
	}
	return &Router{reader: reader, writer: writer, ro: ro, cfg: c.TrafficRouting.Nginx, stable: c.StableService, canary: c.CanaryService, maxWeight: c.TrafficRouting.MaxTrafficWeight}, nil
}

// Type is "nginx".
func (r *Router) Type() string { return "nginx" }

// UpdateHash has nothing to do: Ingresses point at Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// RemoveManagedRoutes has nothing to remove: the router sets no header or
// mirror routes.
func (r *Router) RemoveManagedRoutes(context.Context) error { return nil }

// CanaryName is the canary Ingress of a stable Ingress.
func CanaryName(rollout, stableIngress string) string {
	name := fmt.Sprintf("%s-%s-canary", rollout, stableIngress)
	if len(name) > 253 {
		name = name[:253]
	}
	return name
}

// SetWeight makes each canary Ingress carry the weight, creating it from
// its stable Ingress if needed; it writes only what differs.
func (r *Router) SetWeight(ctx context.Context, weight int32) error {
	ingresses := r.cfg.StableIngresses
	if r.cfg.StableIngress != "" {
		ingresses = append([]string{r.cfg.StableIngress}, ingresses...)
	}
	for _, name := range ingresses {
		stable := &networkingv1.Ingress{}
		if err := r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.ro.Namespace, Name: name}, stable); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("stable Ingress %q %w in namespace %s", name, trafficrouting.ErrMissing, r.ro.Namespace)
			}
			return fmt.Errorf("reading Ingress %s: %w", name, err)
		}
		want, err := r.canaryIngress(stable, weight)
		if err != nil {
			return err
		}
		have := &networkingv1.Ingress{}
		err = r.reader.Get(ctx, ctrl.ObjectKeyFromObject(want), have)
		switch {
		case apierrors.IsNotFound(err):
			if err := r.writer.Create(ctx, want); err != nil {
				return fmt.Errorf("creating Ingress %s: %w", want.Name, err)
			}
		case err != nil:
			return fmt.Errorf("reading Ingress %s: %w", want.Name, err)
		default:
			if !trafficrouting.OwnedBy(have, r.ro) {
				return fmt.Errorf("canary Ingress %s exists and is not this rollout's", want.Name)
			}
			if apiequality.Semantic.DeepEqual(have.Spec, want.Spec) && maps.Equal(have.Annotations, want.Annotations) && maps.Equal(have.Labels, want.Labels) {
				continue
			}
			have.Spec, have.Annotations, have.Labels = want.Spec, want.Annotations, want.Labels
			if err := r.writer.Update(ctx, have); err != nil {
				return fmt.Errorf("updating Ingress %s: %w", have.Name, err)
			}
		}
	}
	return nil
}

// canaryIngress is the canary Ingress of stable at weight: stable's rules
// with the canary Service where the stable one was, ingress-nginx's canary
// annotations, the additional ones (prefixed) and canaryIngressAnnotations
// (full keys, which win).
func (r *Router) canaryIngress(stable *networkingv1.Ingress, weight int32) (*networkingv1.Ingress, error) {
	prefix := r.cfg.AnnotationPrefix
	if prefix == "" {
		prefix = DefaultAnnotationPrefix
	}
	spec := stable.Spec.DeepCopy()
	spec.DefaultBackend = nil
	spec.TLS = nil
	// Only the paths of the stable Service, pointed at the canary one:
	// other paths are not the canary's to split.
	found := false
	var rules []networkingv1.IngressRule
	for _, rule := range spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		var paths []networkingv1.HTTPIngressPath
		for _, p := range rule.HTTP.Paths {
			if svc := p.Backend.Service; svc != nil && svc.Name == r.stable {
				svc.Name = r.canary
				paths = append(paths, p)
				found = true
			}
		}
		if len(paths) > 0 {
			rule.HTTP.Paths = paths
			rules = append(rules, rule)
		}
	}
	spec.Rules = rules
	if !found {
		return nil, fmt.Errorf("stable Ingress %s: no path sends traffic to Service %s", stable.Name, r.stable)
	}
	annotations := map[string]string{
		v1alpha1.ManagedByRolloutsKey: r.ro.Name,
		prefix + "/canary":            "true",
		prefix + "/canary-weight":     strconv.Itoa(int(weight)),
	}
	if r.maxWeight != nil {
		annotations[prefix+"/canary-weight-total"] = strconv.Itoa(int(*r.maxWeight))
	}
	if class, ok := stable.Annotations["kubernetes.io/ingress.class"]; ok {
		annotations["kubernetes.io/ingress.class"] = class
	}
	for k, v := range r.cfg.AdditionalIngressAnnotations {
		annotations[prefix+"/"+k] = v
	}
	maps.Copy(annotations, r.cfg.CanaryIngressAnnotations)
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{
			Name:            CanaryName(r.ro.Name, stable.Name),
			Namespace:       r.ro.Namespace,
			Annotations:     annotations,
			Labels:          map[string]string{v1alpha1.ManagedLabelKey: "true"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(r.ro, v1alpha1.SchemeGroupVersion.WithKind("Rollout"))},
		},
		Spec: *spec,
	}, nil
}
