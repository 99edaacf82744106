package apisix

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// ApisixRoute is the kind the router edits (and creates, for header
// routes).
var ApisixRoute = schema.GroupVersionKind{Group: "apisix.apache.org", Version: "v2", Kind: "ApisixRoute"}

// Router routes one rollout through an ApisixRoute.
type Router struct {
	reader    ctrl.Reader
	writer    ctrl.Writer
	ro        *v1alpha1.Rollout
	name      string
	rules     []string
	stable    string
	canary    string
	maxWeight int32
	managed   []string
}

var (
	_ trafficrouting.Router       = (*Router)(nil)
	_ trafficrouting.HeaderRouter = (*Router)(nil)
)

// New is the router of ro's trafficRouting.apisix. Routes are read with
// reader (uncached) and written with writer.
func New(reader ctrl.Reader, writer ctrl.Writer, ro *v1alpha1.Rollout) (*Router, error) {
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil || c.TrafficRouting.Apisix == nil || c.TrafficRouting.Apisix.Route == nil || c.TrafficRouting.Apisix.Route.Name == "" {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary.trafficRouting.apisix.route.name is not set"}
	}
	if c.StableService == "" || c.CanaryService == "" {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary: the apisix router needs canaryService and stableService"}
	}
	route := c.TrafficRouting.Apisix.Route
	r := &Router{reader: reader, writer: writer, ro: ro, name: route.Name, rules: route.Rules,
		stable: c.StableService, canary: c.CanaryService, maxWeight: c.GetMaxTrafficWeight()}
	if len(r.rules) == 0 {
		r.rules = []string{route.Name} // Argo Rollouts' default
	}
	for _, m := range c.TrafficRouting.ManagedRoutes {
		r.managed = append(r.managed, m.Name)
	}
	return r, nil
}

// Type is "apisix".
func (r *Router) Type() string { return "apisix" }

// UpdateHash has nothing to do: backends are Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// HeaderRouteName is the ApisixRoute of a header route.
func HeaderRouteName(route, headerRoute string) string {
	return route + "-header-" + headerRoute
}

// SetWeight weights the stable and canary backends of every weighted rule;
// it writes only when a weight differs.
func (r *Router) SetWeight(ctx context.Context, weight int32) error {
	obj, err := r.get(ctx, r.name)
	if err != nil {
		return err
	}
	rules, err := r.weightedRules(obj)
	if err != nil {
		return err
	}
	changed := false
	for _, rule := range rules {
		backends, _ := rule["backends"].([]any)
		for _, want := range []struct {
			service string
			weight  int32
		}{{r.stable, r.maxWeight - weight}, {r.canary, weight}} {
			b := backend(backends, want.service)
			if b == nil {
				return fmt.Errorf("ApisixRoute %s/%s: rule %s has no backend %s", r.ro.Namespace, r.name, rule["name"], want.service)
			}
			if cur, ok := b["weight"].(int64); !ok || cur != int64(want.weight) {
				b["weight"] = int64(want.weight)
				changed = true
			}
		}
	}
	if !changed {
		return nil
	}
	return r.update(ctx, obj)
}

// SetHeaderRoute creates (or updates) the header route's ApisixRoute; an
// empty match deletes it.
func (r *Router) SetHeaderRoute(ctx context.Context, h *v1alpha1.SetHeaderRoute) error {
	name := HeaderRouteName(r.name, h.Name)
	if len(h.Match) == 0 {
		return r.deleteOwned(ctx, name)
	}
	base, err := r.get(ctx, r.name)
	if err != nil {
		return err
	}
	weighted, err := r.weightedRules(base)
	if err != nil {
		return err
	}
	var rules []any
	for _, w := range weighted {
		rule := deepCopy(w)
		delete(rule, "upstreams")
		backends, _ := rule["backends"].([]any)
		canary := backend(backends, r.canary)
		if canary == nil {
			return fmt.Errorf("ApisixRoute %s/%s: rule %s has no backend %s", r.ro.Namespace, r.name, rule["name"], r.canary)
		}
		canary["weight"] = int64(100)
		rule["backends"] = []any{canary}
		priority, _ := rule["priority"].(int64)
		rule["priority"] = priority + 1
		match, _ := rule["match"].(map[string]any)
		exprs, _ := match["exprs"].([]any)
		for _, m := range h.Match {
			exprs = append(exprs, headerExpr(m.HeaderName, m.HeaderValue))
		}
		match["exprs"] = exprs
		rules = append(rules, rule)
	}
	spec := map[string]any{"http": rules}
	if class, ok := base.Object["spec"].(map[string]any)["ingressClassName"]; ok {
		spec["ingressClassName"] = class
	}
	have := &unstructured.Unstructured{}
	have.SetGroupVersionKind(ApisixRoute)
	err = r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.ro.Namespace, Name: name}, have)
	switch {
	case apierrors.IsNotFound(err):
		want := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
		want.SetGroupVersionKind(ApisixRoute)
		want.SetName(name)
		want.SetNamespace(r.ro.Namespace)
		want.SetLabels(map[string]string{v1alpha1.ManagedLabelKey: "true"})
		want.SetAnnotations(map[string]string{v1alpha1.ManagedByRolloutsKey: r.ro.Name})
		want.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(r.ro, v1alpha1.SchemeGroupVersion.WithKind("Rollout"))})
		if err := r.writer.Create(ctx, want); err != nil {
			return fmt.Errorf("creating ApisixRoute %s: %w", name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading ApisixRoute %s: %w", name, err)
	case !trafficrouting.OwnedBy(have, r.ro):
		return fmt.Errorf("ApisixRoute %s exists and is not this rollout's", name)
	case trafficrouting.Covers(have.Object["spec"], spec):
		return nil
	}
	have.Object["spec"] = spec
	return r.update(ctx, have)
}

// RemoveManagedRoutes deletes the header routes' ApisixRoutes.
func (r *Router) RemoveManagedRoutes(ctx context.Context) error {
	for _, m := range r.managed {
		if err := r.deleteOwned(ctx, HeaderRouteName(r.name, m)); err != nil {
			return err
		}
	}
	return nil
}

func (r *Router) deleteOwned(ctx context.Context, name string) error {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(ApisixRoute)
	err := r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.ro.Namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ApisixRoute %s: %w", name, err)
	}
	if !trafficrouting.OwnedBy(obj, r.ro) {
		return nil
	}
	if err := r.writer.Delete(ctx, obj, ctrl.Preconditions{UID: ptr.To(obj.GetUID())}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting ApisixRoute %s: %w", name, err)
	}
	return nil
}

func (r *Router) get(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(ApisixRoute)
	if err := r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.ro.Namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("ApisixRoute %q %w in namespace %s", name, trafficrouting.ErrMissing, r.ro.Namespace)
		}
		return nil, fmt.Errorf("reading ApisixRoute %s: %w", name, err)
	}
	return obj, nil
}

func (r *Router) update(ctx context.Context, obj *unstructured.Unstructured) error {
	if err := r.writer.Update(ctx, obj); err != nil {
		return fmt.Errorf("updating ApisixRoute %s: %w", obj.GetName(), err)
	}
	return nil
}

// weightedRules are the HTTP rules the router weights, in obj (edits to
// them edit obj).
func (r *Router) weightedRules(obj *unstructured.Unstructured) ([]map[string]any, error) {
	spec, _ := obj.Object["spec"].(map[string]any)
	http, _ := spec["http"].([]any)
	var out []map[string]any
	for _, name := range r.rules {
		i := slices.IndexFunc(http, func(x any) bool {
			rule, _ := x.(map[string]any)
			return rule["name"] == name
		})
		if i < 0 {
			return nil, fmt.Errorf("ApisixRoute %s/%s has no HTTP rule %q (spec.strategy.canary.trafficRouting.apisix.route.rules)", r.ro.Namespace, r.name, name)
		}
		out = append(out, http[i].(map[string]any))
	}
	return out, nil
}

func backend(backends []any, service string) map[string]any {
	for _, x := range backends {
		if b, ok := x.(map[string]any); ok && b["serviceName"] == service {
			return b
		}
	}
	return nil
}

// headerExpr is APISIX's condition on a header: Equal for exact,
// RegexMatch for prefix and regex (and any value).
func headerExpr(name string, v *v1alpha1.StringMatch) map[string]any {
	subject := map[string]any{"scope": "Header", "name": name}
	switch {
	case v == nil:
		return map[string]any{"subject": subject, "op": "RegexMatch", "value": ".*"}
	case v.Exact != "":
		return map[string]any{"subject": subject, "op": "Equal", "value": v.Exact}
	case v.Prefix != "":
		return map[string]any{"subject": subject, "op": "RegexMatch", "value": "^" + regexp.QuoteMeta(v.Prefix) + ".*"}
	}
	return map[string]any{"subject": subject, "op": "RegexMatch", "value": v.Regex}
}

func deepCopy(m map[string]any) map[string]any { return runtime.DeepCopyJSON(m) }
