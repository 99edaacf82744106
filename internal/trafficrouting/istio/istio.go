// Package istio is the Istio traffic router. It weights the destinations of
// a VirtualService's HTTP, TLS and TCP routes: by host (the canary and
// stable Services) or, with a DestinationRule, by subset (the canary and
// stable subsets, whose pod-template hash labels it keeps current). Header
// and mirror routes are HTTP routes named after the step, placed first.
// Objects are read and written untyped: fields Ramp does not know survive.
package istio

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// Kinds the router edits, at the API version it uses by default.
var (
	VirtualService  = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}
	DestinationRule = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"}
)

// Router routes one rollout through its VirtualServices.
type Router struct {
	reader    ctrl.Reader
	writer    ctrl.Writer
	namespace string
	services  []v1alpha1.IstioVirtualService
	dr        *v1alpha1.IstioDestinationRule
	stable    string
	canary    string
	maxWeight int32
	managed   []string
	version   string
}

// APIVersions are the versions of networking.istio.io the router can
// use (Argo Rollouts' --istio-api-version): v1, the default, served by
// Istio 1.22 and later; v1beta1 and v1alpha3 for older Istio.
var APIVersions = []string{"v1", "v1beta1", "v1alpha3"}

// at is kind at the router's API version.
func (r *Router) at(kind schema.GroupVersionKind) schema.GroupVersionKind {
	if r.version != "" {
		kind.Version = r.version
	}
	return kind
}

var (
	_ trafficrouting.Router       = (*Router)(nil)
	_ trafficrouting.HeaderRouter = (*Router)(nil)
	_ trafficrouting.MirrorRouter = (*Router)(nil)

	_ trafficrouting.DestinationRouter = (*Router)(nil)
)

// New is the router of ro's trafficRouting.istio, reading and writing
// networking.istio.io at apiVersion (one of APIVersions; "" is v1).
func New(reader ctrl.Reader, writer ctrl.Writer, ro *v1alpha1.Rollout, apiVersion string) (*Router, error) {
	if apiVersion != "" && !slices.Contains(APIVersions, apiVersion) {
		return nil, fmt.Errorf("istio API version %q: must be one of %s", apiVersion, strings.Join(APIVersions, ", "))
	}
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil || c.TrafficRouting.Istio == nil {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary.trafficRouting.istio is not set"}
	}
	i := c.TrafficRouting.Istio
	r := &Router{reader: reader, writer: writer, namespace: ro.Namespace, dr: i.DestinationRule,
		stable: c.StableService, canary: c.CanaryService, maxWeight: c.GetMaxTrafficWeight(), version: apiVersion}
	if i.VirtualService != nil {
		r.services = append(r.services, *i.VirtualService)
	}
	r.services = append(r.services, i.VirtualServices...)
	for _, m := range c.TrafficRouting.ManagedRoutes {
		r.managed = append(r.managed, m.Name)
	}
	if r.dr == nil && (r.stable == "" || r.canary == "") {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary: the istio router needs canaryService and stableService, or a destinationRule"}
	}
	return r, nil
}

// Type is "istio".
func (r *Router) Type() string { return "istio" }

// destination tells the canary and stable destinations apart: by subset
// with a DestinationRule, by host otherwise.
func (r *Router) role(dest map[string]any) string {
	host, _ := dest["host"].(string)
	subset, _ := dest["subset"].(string)
	if r.dr != nil {
		switch subset {
		case r.dr.StableSubsetName:
			return "stable"
		case r.dr.CanarySubsetName:
			return "canary"
		}
		return ""
	}
	switch shortHost(host) {
	case r.stable:
		return "stable"
	case r.canary:
		return "canary"
	}
	return ""
}

// shortHost is a Service host without its namespace and cluster suffix.
func shortHost(host string) string {
	for i := range host {
		if host[i] == '.' {
			return host[:i]
		}
	}
	return host
}

// UpdateHash points the DestinationRule's canary and stable subsets at the
// ReplicaSets' pod-template hashes (nothing to do without one).
func (r *Router) UpdateHash(ctx context.Context, canaryHash, stableHash string) error {
	if r.dr == nil {
		return nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.at(DestinationRule))
	if err := r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.namespace, Name: r.dr.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("DestinationRule %q %w in namespace %s", r.dr.Name, trafficrouting.ErrMissing, r.namespace)
		}
		return err
	}
	subsets, _, _ := unstructured.NestedSlice(obj.Object, "spec", "subsets")
	changed := false
	for _, x := range subsets {
		s, _ := x.(map[string]any)
		want := ""
		switch s["name"] {
		case r.dr.CanarySubsetName:
			want = canaryHash
		case r.dr.StableSubsetName:
			want = stableHash
		default:
			continue
		}
		labels, _ := s["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
		}
		if labels[v1alpha1.DefaultRolloutUniqueLabelKey] != want {
			labels[v1alpha1.DefaultRolloutUniqueLabelKey] = want
			s["labels"] = labels
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := unstructured.SetNestedSlice(obj.Object, subsets, "spec", "subsets"); err != nil {
		return err
	}
	return r.writer.Update(ctx, obj)
}

// SetWeight weights the canary and stable destinations of the named HTTP
// routes (all, when none is named and the VirtualService has one), TLS
// routes (by port and SNI hosts) and TCP routes (by port).
func (r *Router) SetWeight(ctx context.Context, weight int32) error {
	return r.SetWeightAndDestinations(ctx, weight, nil)
}

// DestinationsAnnotation lists, on a VirtualService, the hosts of the
// destinations the router added for weighted experiment templates, so it
// removes them (and only them) when the experiment ends.
const DestinationsAnnotation = "ramp.dev/experiment-destinations"

// SetWeightAndDestinations weights the routes as SetWeight does, with a
// destination per additional Service (a weighted experiment template's, on
// the canary destination's port) between them; the stable version gets
// the rest.
func (r *Router) SetWeightAndDestinations(ctx context.Context, weight int32, destinations []v1alpha1.WeightDestination) error {
	stableWeight := r.maxWeight - weight
	wanted := map[string]int32{}
	var hosts []string
	for _, d := range destinations {
		wanted[d.ServiceName] = d.Weight
		hosts = append(hosts, d.ServiceName)
		stableWeight -= d.Weight
	}
	return r.eachObject(ctx, func(vs v1alpha1.IstioVirtualService, obj *unstructured.Unstructured, spec map[string]any) (bool, error) {
		added := map[string]bool{}
		for h := range strings.SplitSeq(obj.GetAnnotations()[DestinationsAnnotation], ",") {
			added[h] = h != ""
		}
		changed, found := false, false
		weigh := func(route map[string]any) {
			dests, _ := route["route"].([]any)
			kept := dests[:0:0]
			seen := map[string]bool{}
			var port any
			for _, y := range dests {
				d, _ := y.(map[string]any)
				dest, _ := d["destination"].(map[string]any)
				switch r.role(dest) {
				case "stable":
					changed = setWeight(d, stableWeight) || changed
					found = true
				case "canary":
					changed = setWeight(d, weight) || changed
					port = dest["port"]
				default:
					host, _ := dest["host"].(string)
					if w, ok := wanted[host]; ok {
						changed = setWeight(d, w) || changed
						seen[host] = true
					} else if added[host] {
						changed = true // the experiment's share ended
						continue
					}
				}
				kept = append(kept, y)
			}
			for _, host := range hosts {
				if seen[host] {
					continue
				}
				dest := map[string]any{"host": host}
				if port != nil {
					dest["port"] = runtime.DeepCopyJSONValue(port)
				}
				kept = append(kept, map[string]any{"destination": dest, "weight": int64(wanted[host])})
				changed = true
			}
			route["route"] = kept
		}
		http, _ := spec["http"].([]any)
		for _, x := range http {
			route, _ := x.(map[string]any)
			name, _ := route["name"].(string)
			if slices.Contains(r.managed, name) {
				continue
			}
			if len(vs.Routes) == 0 || slices.Contains(vs.Routes, name) {
				weigh(route)
			}
		}
		tls, _ := spec["tls"].([]any)
		for _, x := range tls {
			route, _ := x.(map[string]any)
			for _, want := range vs.TLSRoutes {
				if matchesTLS(route, want) {
					weigh(route)
				}
			}
		}
		tcp, _ := spec["tcp"].([]any)
		for _, x := range tcp {
			route, _ := x.(map[string]any)
			for _, want := range vs.TCPRoutes {
				if matchesPort(route, want.Port) {
					weigh(route)
				}
			}
		}
		if !found {
			return false, fmt.Errorf("VirtualService %s/%s: no route sends traffic to the stable destination", r.namespace, vs.Name)
		}
		if list := strings.Join(hosts, ","); obj.GetAnnotations()[DestinationsAnnotation] != list {
			ann := obj.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann[DestinationsAnnotation] = list
			if list == "" {
				delete(ann, DestinationsAnnotation)
			}
			obj.SetAnnotations(ann)
			changed = true
		}
		return changed, nil
	})
}

// SetHeaderRoute puts an HTTP route named after the step first: requests
// whose headers match go to the canary. An empty match removes it.
func (r *Router) SetHeaderRoute(ctx context.Context, h *v1alpha1.SetHeaderRoute) error {
	return r.each(ctx, func(_ v1alpha1.IstioVirtualService, spec map[string]any) (bool, error) {
		http, _ := spec["http"].([]any)
		if len(h.Match) == 0 {
			return remove(spec, h.Name), nil
		}
		headers := map[string]any{}
		for _, m := range h.Match {
			headers[m.HeaderName] = stringMatch(m.HeaderValue)
		}
		dest, err := r.canaryDestination(http)
		if err != nil {
			return false, err
		}
		route := map[string]any{
			"name":  h.Name,
			"match": []any{map[string]any{"headers": headers}},
			"route": []any{map[string]any{"destination": dest, "weight": int64(100)}},
		}
		return put(spec, route), nil
	})
}

// SetMirrorRoute puts an HTTP route named after the step first: matching
// requests are served as by the weighted route and mirrored to the canary.
// An empty match removes it.
func (r *Router) SetMirrorRoute(ctx context.Context, m *v1alpha1.SetMirrorRoute) error {
	return r.each(ctx, func(vs v1alpha1.IstioVirtualService, spec map[string]any) (bool, error) {
		http, _ := spec["http"].([]any)
		if len(m.Match) == 0 {
			return remove(spec, m.Name), nil
		}
		dest, err := r.canaryDestination(http)
		if err != nil {
			return false, err
		}
		var matches []any
		for _, rm := range m.Match {
			match := map[string]any{}
			if rm.Method != nil {
				match["method"] = stringMatch(rm.Method)
			}
			if rm.Path != nil {
				match["uri"] = stringMatch(rm.Path)
			}
			if len(rm.Headers) > 0 {
				headers := map[string]any{}
				for k, v := range rm.Headers {
					headers[k] = stringMatch(&v)
				}
				match["headers"] = headers
			}
			matches = append(matches, match)
		}
		var base map[string]any
		for _, x := range http {
			route, _ := x.(map[string]any)
			if name, _ := route["name"].(string); !slices.Contains(r.managed, name) && (len(vs.Routes) == 0 || slices.Contains(vs.Routes, name)) {
				base = route
				break
			}
		}
		if base == nil {
			return false, fmt.Errorf("VirtualService %s/%s: no HTTP route to mirror", r.namespace, vs.Name)
		}
		route := map[string]any{
			"name":   m.Name,
			"match":  matches,
			"route":  runtime.DeepCopyJSONValue(base["route"]),
			"mirror": dest,
		}
		if m.Percentage != nil {
			route["mirrorPercentage"] = map[string]any{"value": float64(*m.Percentage)}
		}
		return put(spec, route), nil
	})
}

// RemoveManagedRoutes removes the HTTP routes named in managedRoutes.
func (r *Router) RemoveManagedRoutes(ctx context.Context) error {
	return r.each(ctx, func(_ v1alpha1.IstioVirtualService, spec map[string]any) (bool, error) {
		changed := false
		for _, name := range r.managed {
			changed = remove(spec, name) || changed
		}
		return changed, nil
	})
}

// canaryDestination is the canary's destination, taken from the weighted
// routes (its port included).
func (r *Router) canaryDestination(http []any) (map[string]any, error) {
	for _, x := range http {
		route, _ := x.(map[string]any)
		dests, _ := route["route"].([]any)
		for _, y := range dests {
			d, _ := y.(map[string]any)
			if dest, _ := d["destination"].(map[string]any); r.role(dest) == "canary" {
				return runtime.DeepCopyJSON(dest), nil
			}
		}
	}
	return nil, fmt.Errorf("no HTTP route has a canary destination")
}

// each reads every VirtualService, lets change edit its spec, and writes
// it back (with its resourceVersion) only when change changed something.
func (r *Router) each(ctx context.Context, change func(v1alpha1.IstioVirtualService, map[string]any) (bool, error)) error {
	return r.eachObject(ctx, func(vs v1alpha1.IstioVirtualService, _ *unstructured.Unstructured, spec map[string]any) (bool, error) {
		return change(vs, spec)
	})
}

// eachObject is each, with the whole object to change.
func (r *Router) eachObject(ctx context.Context, change func(v1alpha1.IstioVirtualService, *unstructured.Unstructured, map[string]any) (bool, error)) error {
	for _, vs := range r.services {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(r.at(VirtualService))
		if err := r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.namespace, Name: vs.Name}, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("VirtualService %q %w in namespace %s", vs.Name, trafficrouting.ErrMissing, r.namespace)
			}
			return fmt.Errorf("reading VirtualService %s: %w", vs.Name, err)
		}
		spec, _ := obj.Object["spec"].(map[string]any)
		if spec == nil {
			return fmt.Errorf("VirtualService %s has no spec", vs.Name)
		}
		changed, err := change(vs, obj, spec)
		if err != nil {
			return err
		}
		if !changed {
			continue
		}
		if err := r.writer.Update(ctx, obj); err != nil {
			return fmt.Errorf("updating VirtualService %s: %w", vs.Name, err)
		}
	}
	return nil
}

// put places route first among the HTTP routes, replacing the route of the
// same name unless that one already says everything route says.
func put(spec map[string]any, route map[string]any) bool {
	http, _ := spec["http"].([]any)
	for i, x := range http {
		if existing, _ := x.(map[string]any); existing != nil && existing["name"] == route["name"] {
			if trafficrouting.Covers(existing, route) {
				return false
			}
			http = append(http[:i:i], http[i+1:]...)
			break
		}
	}
	spec["http"] = append([]any{route}, http...)
	return true
}

func remove(spec map[string]any, name string) bool {
	http, _ := spec["http"].([]any)
	kept := http[:0:0]
	for _, x := range http {
		if route, _ := x.(map[string]any); route != nil && route["name"] == name {
			continue
		}
		kept = append(kept, x)
	}
	if len(kept) == len(http) {
		return false
	}
	spec["http"] = kept
	return true
}

func stringMatch(v *v1alpha1.StringMatch) map[string]any {
	switch {
	case v == nil:
		return map[string]any{"regex": ".*"}
	case v.Exact != "":
		return map[string]any{"exact": v.Exact}
	case v.Prefix != "":
		return map[string]any{"prefix": v.Prefix}
	}
	return map[string]any{"regex": v.Regex}
}

func matchesTLS(route map[string]any, want v1alpha1.TLSRoute) bool {
	matches, _ := route["match"].([]any)
	for _, x := range matches {
		m, _ := x.(map[string]any)
		if want.Port != 0 && fmt.Sprint(m["port"]) != fmt.Sprint(want.Port) {
			continue
		}
		hosts, _ := m["sniHosts"].([]any)
		ok := true
		for _, h := range want.SNIHosts {
			if !slices.ContainsFunc(hosts, func(x any) bool { return x == h }) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func matchesPort(route map[string]any, port int64) bool {
	matches, _ := route["match"].([]any)
	for _, x := range matches {
		if m, _ := x.(map[string]any); port == 0 || fmt.Sprint(m["port"]) == fmt.Sprint(port) {
			return true
		}
	}
	return port == 0
}

func setWeight(d map[string]any, w int32) bool {
	if cur, ok := d["weight"].(int64); ok && cur == int64(w) {
		return false
	}
	d["weight"] = int64(w)
	return true
}
