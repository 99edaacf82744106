// Package gatewayapi is the Gateway API traffic router, built in (Argo
// Rollouts has it only as an out-of-tree plugin): it weights the stable and
// canary Services' backendRefs in the rules of HTTPRoutes, GRPCRoutes and
// TCPRoutes (experimental channel: v1, else v1alpha2),
// and adds (then removes) rules named ramp-header-<step> and
// ramp-mirror-<step> for setHeaderRoute and setMirrorRoute. Routes are read
// and written as unstructured objects, so fields this version of the
// gateway-api types does not know survive byte for byte; only the weights
// and Ramp's own rules change.
package gatewayapi

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// Kinds of route the router weights.
var (
	HTTPRoute = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}
	GRPCRoute = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GRPCRoute"}
	// TCPRoute is in Gateway API's experimental channel: v1 since v1.5,
	// v1alpha2 before; the router uses v1alpha2 when v1 is not served.
	TCPRoute         = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "TCPRoute"}
	tcpRouteV1alpha2 = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1alpha2", Kind: "TCPRoute"}
)

// Prefixes of the rules Ramp adds; a rule named so is Ramp's.
const (
	headerPrefix = "ramp-header-"
	mirrorPrefix = "ramp-mirror-"
)

// Router routes one rollout through its Gateway API routes.
type Router struct {
	reader    ctrl.Reader
	writer    ctrl.Writer
	namespace string
	routes    []route
	stable    string
	canary    string
	maxWeight int32
}

type route struct {
	gvk     schema.GroupVersionKind
	name    string
	rule    string
	headers bool
}

var (
	_ trafficrouting.Router       = (*Router)(nil)
	_ trafficrouting.HeaderRouter = (*Router)(nil)
	_ trafficrouting.MirrorRouter = (*Router)(nil)
)

// New is the router of ro's spec.strategy.canary.trafficRouting.gatewayAPI.
// It reads routes with reader (the controller passes its uncached reader:
// routes are not Ramp's, so they are not cached) and writes with writer.
func New(reader ctrl.Reader, writer ctrl.Writer, ro *v1alpha1.Rollout) (*Router, error) {
	cs := ro.Spec.Strategy.Canary
	if cs == nil || cs.TrafficRouting == nil || cs.TrafficRouting.GatewayAPI == nil {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary.trafficRouting.gatewayAPI is not set"}
	}
	g := cs.TrafficRouting.GatewayAPI
	r := &Router{reader: reader, writer: writer, namespace: g.Namespace, stable: cs.StableService, canary: cs.CanaryService, maxWeight: cs.GetMaxTrafficWeight()}
	if r.namespace == "" {
		r.namespace = ro.Namespace
	}
	if r.stable == "" || r.canary == "" {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary: the gatewayAPI router needs canaryService and stableService"}
	}
	if g.HTTPRoute != "" {
		r.routes = append(r.routes, route{gvk: HTTPRoute, name: g.HTTPRoute})
	}
	for _, x := range g.HTTPRoutes {
		r.routes = append(r.routes, route{gvk: HTTPRoute, name: x.Name, rule: x.Rule, headers: x.UseHeaderRoutes})
	}
	if g.GRPCRoute != "" {
		r.routes = append(r.routes, route{gvk: GRPCRoute, name: g.GRPCRoute})
	}
	for _, x := range g.GRPCRoutes {
		r.routes = append(r.routes, route{gvk: GRPCRoute, name: x.Name, rule: x.Rule, headers: x.UseHeaderRoutes})
	}
	if g.TCPRoute != "" {
		r.routes = append(r.routes, route{gvk: TCPRoute, name: g.TCPRoute})
	}
	for _, x := range g.TCPRoutes {
		r.routes = append(r.routes, route{gvk: TCPRoute, name: x.Name, rule: x.Rule})
	}
	return r, nil
}

// Type is "gatewayAPI".
func (r *Router) Type() string { return "gatewayAPI" }

// UpdateHash has nothing to do: routes point at Services, not hashes.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// SetWeight weights the stable and canary backendRefs of every weighted
// rule; a rule that lists the stable Service but not the canary gets a
// canary backendRef (a copy of the stable one). Nothing is written when the
// weights are already right.
func (r *Router) SetWeight(ctx context.Context, weight int32) error {
	return r.each(ctx, func(rt route, obj *unstructured.Unstructured, rules []any) ([]any, bool, error) {
		changed, found := false, false
		for _, x := range rules {
			rule, ok := x.(map[string]any)
			if !ok || isRamps(rule) || !r.weighted(rt, rule) {
				continue
			}
			found = true
			refs, _ := rule["backendRefs"].([]any)
			var stableRef map[string]any
			hasCanary := false
			for _, y := range refs {
				ref, _ := y.(map[string]any)
				switch refName(ref) {
				case r.stable:
					stableRef = ref
					changed = setWeight(ref, r.maxWeight-weight) || changed
				case r.canary:
					hasCanary = true
					changed = setWeight(ref, weight) || changed
				}
			}
			if !hasCanary && stableRef != nil {
				canary := deepCopy(stableRef)
				canary["name"] = r.canary
				canary["weight"] = int64(weight)
				rule["backendRefs"] = append(refs, canary)
				changed = true
			}
		}
		if !found {
			return nil, false, fmt.Errorf("%s %s/%s: no rule sends traffic to Service %s", rt.gvk.Kind, r.namespace, rt.name, r.stable)
		}
		return rules, changed, nil
	})
}

// SetHeaderRoute adds the rule ramp-header-<name>: the matches of the
// weighted rule, each with the step's header conditions added, sent to the
// canary Service alone. An empty match removes it.
func (r *Router) SetHeaderRoute(ctx context.Context, h *v1alpha1.SetHeaderRoute) error {
	name := headerPrefix + h.Name
	return r.each(ctx, func(rt route, _ *unstructured.Unstructured, rules []any) ([]any, bool, error) {
		if rt.gvk == TCPRoute || !r.takesHeaderRoutes(rt) {
			return rules, false, nil
		}
		if len(h.Match) == 0 {
			rules, removed := without(rules, name)
			return rules, removed, nil
		}
		base := r.baseRule(rt, rules)
		if base == nil {
			return nil, false, fmt.Errorf("%s %s/%s: no rule sends traffic to Service %s", rt.gvk.Kind, r.namespace, rt.name, r.stable)
		}
		headers := make([]any, 0, len(h.Match))
		for _, m := range h.Match {
			headers = append(headers, headerMatch(m.HeaderName, m.HeaderValue))
		}
		matches := baseMatches(base)
		for _, m := range matches {
			mm := m.(map[string]any)
			existing, _ := mm["headers"].([]any)
			mm["headers"] = append(existing, headers...)
		}
		rule := map[string]any{"name": name, "matches": matches, "backendRefs": []any{r.canaryRef(base)}}
		return put(rules, rule)
	})
}

// SetMirrorRoute adds the rule ramp-mirror-<name>: requests that match are
// served as before and mirrored (percentage of them) to the canary Service.
// An empty match removes it.
func (r *Router) SetMirrorRoute(ctx context.Context, m *v1alpha1.SetMirrorRoute) error {
	name := mirrorPrefix + m.Name
	return r.each(ctx, func(rt route, _ *unstructured.Unstructured, rules []any) ([]any, bool, error) {
		if rt.gvk != HTTPRoute {
			return rules, false, nil
		}
		if len(m.Match) == 0 {
			rules, removed := without(rules, name)
			return rules, removed, nil
		}
		base := r.baseRule(rt, rules)
		if base == nil {
			return nil, false, fmt.Errorf("%s %s/%s: no rule sends traffic to Service %s", rt.gvk.Kind, r.namespace, rt.name, r.stable)
		}
		var matches []any
		for _, rm := range m.Match {
			match := map[string]any{}
			if rm.Method != nil && rm.Method.Exact != "" {
				match["method"] = rm.Method.Exact
			}
			if rm.Path != nil {
				match["path"] = pathMatch(rm.Path)
			}
			var headers []any
			for k, v := range rm.Headers {
				headers = append(headers, headerMatch(k, &v))
			}
			if len(headers) > 0 {
				match["headers"] = headers
			}
			matches = append(matches, match)
		}
		mirrorRef := map[string]any{"name": r.canary}
		if port, ok := r.canaryRef(base)["port"]; ok {
			mirrorRef["port"] = port
		}
		requestMirror := map[string]any{"backendRef": mirrorRef}
		if m.Percentage != nil {
			requestMirror["percent"] = int64(*m.Percentage)
		}
		refs, _ := deepCopy(map[string]any{"r": base["backendRefs"]})["r"].([]any)
		rule := map[string]any{
			"name":        name,
			"matches":     matches,
			"filters":     []any{map[string]any{"type": "RequestMirror", "requestMirror": requestMirror}},
			"backendRefs": refs,
		}
		return put(rules, rule)
	})
}

// RemoveManagedRoutes removes every rule Ramp added.
func (r *Router) RemoveManagedRoutes(ctx context.Context) error {
	return r.each(ctx, func(_ route, _ *unstructured.Unstructured, rules []any) ([]any, bool, error) {
		var kept []any
		for _, x := range rules {
			if rule, ok := x.(map[string]any); ok && isRamps(rule) {
				continue
			}
			kept = append(kept, x)
		}
		return kept, len(kept) != len(rules), nil
	})
}

// each reads every route, lets change edit its rules, and writes the
// route back (with its resourceVersion, so a concurrent edit is not lost)
// only when the rules differ.
func (r *Router) each(ctx context.Context, change func(route, *unstructured.Unstructured, []any) ([]any, bool, error)) error {
	for _, rt := range r.routes {
		obj, err := r.get(ctx, rt)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%s %q %w in namespace %s", rt.gvk.Kind, rt.name, trafficrouting.ErrMissing, r.namespace)
			}
			if errors.Is(err, trafficrouting.ErrMissing) {
				return err
			}
			return fmt.Errorf("reading %s %s: %w", rt.gvk.Kind, rt.name, err)
		}
		rules, _, _ := unstructured.NestedSlice(obj.Object, "spec", "rules")
		before := deepCopy(map[string]any{"r": rules})["r"]
		edited, changed, err := change(rt, obj, rules)
		if err != nil {
			return err
		}
		if !changed || equalJSON(before, edited) {
			continue
		}
		if err := unstructured.SetNestedSlice(obj.Object, edited, "spec", "rules"); err != nil {
			return err
		}
		if err := r.writer.Update(ctx, obj); err != nil {
			return fmt.Errorf("updating %s %s: %w", rt.gvk.Kind, rt.name, err)
		}
	}
	return nil
}

// get reads a route; a TCPRoute at v1alpha2 when the cluster does not
// serve v1.
func (r *Router) get(ctx context.Context, rt route) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(rt.gvk)
	key := ctrl.ObjectKey{Namespace: r.namespace, Name: rt.name}
	err := r.reader.Get(ctx, key, obj)
	if rt.gvk == TCPRoute && meta.IsNoMatchError(err) {
		obj.SetGroupVersionKind(tcpRouteV1alpha2)
		err = r.reader.Get(ctx, key, obj)
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("TCPRoute %q: the cluster does not serve TCPRoutes (gateway.networking.k8s.io v1 or v1alpha2, in Gateway API's experimental channel): %w", rt.name, trafficrouting.ErrMissing)
		}
	}
	return obj, err
}

// weighted reports whether the router weights rule: the one named by the
// route's rule, or else any that lists the stable Service.
func (r *Router) weighted(rt route, rule map[string]any) bool {
	if rt.rule != "" {
		name, _ := rule["name"].(string)
		return name == rt.rule
	}
	refs, _ := rule["backendRefs"].([]any)
	for _, y := range refs {
		if ref, _ := y.(map[string]any); refName(ref) == r.stable {
			return true
		}
	}
	return false
}

// baseRule is the first weighted rule, which header and mirror rules copy.
func (r *Router) baseRule(rt route, rules []any) map[string]any {
	for _, x := range rules {
		if rule, ok := x.(map[string]any); ok && !isRamps(rule) && r.weighted(rt, rule) {
			return rule
		}
	}
	return nil
}

// takesHeaderRoutes: the routes marked useHeaderRoutes, or all when none is.
func (r *Router) takesHeaderRoutes(rt route) bool {
	for _, x := range r.routes {
		if x.headers {
			return rt.headers
		}
	}
	return true
}

// canaryRef is a backendRef to the canary Service, with the port of the
// base rule's stable backendRef.
func (r *Router) canaryRef(base map[string]any) map[string]any {
	refs, _ := base["backendRefs"].([]any)
	for _, y := range refs {
		if ref, _ := y.(map[string]any); refName(ref) == r.stable {
			c := deepCopy(ref)
			c["name"] = r.canary
			delete(c, "weight")
			delete(c, "filters")
			return c
		}
	}
	return map[string]any{"name": r.canary}
}

func baseMatches(base map[string]any) []any {
	matches, _ := deepCopy(map[string]any{"m": base["matches"]})["m"].([]any)
	if len(matches) == 0 {
		matches = []any{map[string]any{}}
	}
	return matches
}

func headerMatch(name string, v *v1alpha1.StringMatch) map[string]any {
	switch {
	case v == nil:
		return map[string]any{"name": name, "type": "RegularExpression", "value": ".*"}
	case v.Exact != "":
		return map[string]any{"name": name, "type": "Exact", "value": v.Exact}
	case v.Prefix != "":
		return map[string]any{"name": name, "type": "RegularExpression", "value": "^" + regexp.QuoteMeta(v.Prefix) + ".*"}
	}
	return map[string]any{"name": name, "type": "RegularExpression", "value": v.Regex}
}

func pathMatch(v *v1alpha1.StringMatch) map[string]any {
	switch {
	case v.Exact != "":
		return map[string]any{"type": "Exact", "value": v.Exact}
	case v.Prefix != "":
		return map[string]any{"type": "PathPrefix", "value": v.Prefix}
	}
	return map[string]any{"type": "RegularExpression", "value": v.Regex}
}

func isRamps(rule map[string]any) bool {
	name, _ := rule["name"].(string)
	return strings.HasPrefix(name, headerPrefix) || strings.HasPrefix(name, mirrorPrefix)
}

// put adds rule, or replaces the rule of the same name unless that one
// already says everything rule says (the API server adds defaults, such as
// a backendRef's kind, which a rule built here does not carry).
func put(rules []any, rule map[string]any) ([]any, bool, error) {
	for i, x := range rules {
		if existing, ok := x.(map[string]any); ok && existing["name"] == rule["name"] {
			if trafficrouting.Covers(existing, rule) {
				return rules, false, nil
			}
			rules[i] = rule
			return rules, true, nil
		}
	}
	return append(rules, rule), true, nil
}

func without(rules []any, name string) ([]any, bool) {
	var out []any
	for _, x := range rules {
		if rule, ok := x.(map[string]any); ok && rule["name"] == name {
			continue
		}
		out = append(out, x)
	}
	return out, len(out) != len(rules)
}

func refName(ref map[string]any) string {
	if ref == nil {
		return ""
	}
	if kind, ok := ref["kind"].(string); ok && kind != "" && kind != "Service" {
		return ""
	}
	name, _ := ref["name"].(string)
	return name
}

func setWeight(ref map[string]any, w int32) bool {
	if cur, ok := ref["weight"].(int64); ok && cur == int64(w) {
		return false
	}
	ref["weight"] = int64(w)
	return true
}
