package alb

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

const (
	// DefaultAnnotationPrefix is the AWS Load Balancer Controller's.
	DefaultAnnotationPrefix = "alb.ingress.kubernetes.io"
	// ManagedAnnotationsKey holds, as JSON, which annotation keys of the
	// Ingress each Rollout wrote: {"<rollout>": ["<key>", ...]}.
	ManagedAnnotationsKey = v1alpha1.ManagedALBAnnotationsKey
	// UseAnnotation is the port name by which an Ingress path says its
	// action is in the actions.<service> annotation.
	UseAnnotation = "use-annotation"
	// DefaultIngressClass is the class the router accepts by default.
	DefaultIngressClass = "alb"
)

// Options are the controller-wide settings of the ALB router.
type Options struct {
	// IngressClasses the router routes through: an Ingress's
	// spec.ingressClassName (or kubernetes.io/ingress.class annotation)
	// must be one of them; "" stands for an Ingress with no class. Empty
	// means DefaultIngressClass.
	IngressClasses []string
	// Verifier, when set, checks the weights on AWS
	// (--aws-verify-target-group).
	Verifier *Verifier
}

// Router routes one rollout through the annotations of its ALB Ingresses.
type Router struct {
	reader  ctrl.Reader
	writer  ctrl.Writer
	ro      *v1alpha1.Rollout
	cfg     *v1alpha1.ALBTrafficRouting
	prefix  string
	root    string
	stable  string
	canary  string
	classes []string
}

var (
	_ trafficrouting.Router       = (*Router)(nil)
	_ trafficrouting.HeaderRouter = (*Router)(nil)

	_ trafficrouting.DestinationRouter = (*Router)(nil)
)

// New is the router of ro's trafficRouting.alb. Ingresses are read with
// reader (uncached: they are not Ramp's) and patched with writer.
func New(reader ctrl.Reader, writer ctrl.Writer, ro *v1alpha1.Rollout, opts Options) (*Router, error) {
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil || c.TrafficRouting.ALB == nil {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary.trafficRouting.alb is not set"}
	}
	cfg := c.TrafficRouting.ALB
	stable, canary := trafficrouting.Services(ro)
	if stable == "" || canary == "" {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary: the alb router needs canaryService and stableService, or pingPong"}
	}
	root := cfg.RootService
	if root == "" {
		root = stable
	}
	prefix := cfg.AnnotationPrefix
	if prefix == "" {
		prefix = DefaultAnnotationPrefix
	}
	classes := opts.IngressClasses
	if len(classes) == 0 {
		classes = []string{DefaultIngressClass}
	}
	return &Router{reader: reader, writer: writer, ro: ro, cfg: cfg, prefix: prefix, root: root, stable: stable, canary: canary, classes: classes}, nil
}

// Type is "alb".
func (r *Router) Type() string { return "alb" }

// UpdateHash has nothing to do: target groups are Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// Ingresses are the Ingresses the router writes.
func (r *Router) Ingresses() []string {
	if r.cfg.Ingress != "" {
		return append([]string{r.cfg.Ingress}, r.cfg.Ingresses...)
	}
	return r.cfg.Ingresses
}

// ActionKey is the annotation carrying the weights.
func (r *Router) ActionKey() string { return r.prefix + "/actions." + r.root }

// SetWeight writes the forward action with weight (of 100) to the canary
// on every Ingress, where it differs.
func (r *Router) SetWeight(ctx context.Context, weight int32) error {
	return r.SetWeightAndDestinations(ctx, weight, nil)
}

// SetWeightAndDestinations writes the forward action with weight to the
// canary, a target group for each destination (a weighted experiment
// template's Service, on the same servicePort) and the rest to the stable
// version, on every Ingress, where it differs.
func (r *Router) SetWeightAndDestinations(ctx context.Context, weight int32, destinations []v1alpha1.WeightDestination) error {
	value := forward(r.canary, r.stable, r.cfg.ServicePort, weight, destinations, r.cfg.StickinessConfig)
	return r.each(ctx, func(ing *networkingv1.Ingress, keys map[string]bool) error {
		if !routesThrough(ing, r.root) {
			return fmt.Errorf("the Ingress %s has no path with backend Service %s and port name %s", ing.Name, r.root, UseAnnotation)
		}
		ing.Annotations[r.ActionKey()] = value
		keys[r.ActionKey()] = true
		return nil
	})
}

// SetHeaderRoute sends requests with the route's exact header values to
// the canary: an action and conditions named after the route, and a path
// /* at the top of every rule that uses them. An empty match removes it.
func (r *Router) SetHeaderRoute(ctx context.Context, route *v1alpha1.SetHeaderRoute) error {
	if len(route.Match) == 0 {
		return r.each(ctx, func(ing *networkingv1.Ingress, keys map[string]bool) error {
			r.removeRoute(ing, keys, route.Name)
			return nil
		})
	}
	conds, err := conditions(route)
	if err != nil {
		return err
	}
	act := forwardAll(r.canary, r.cfg.ServicePort, r.cfg.StickinessConfig)
	return r.each(ctx, func(ing *networkingv1.Ingress, keys map[string]bool) error {
		actionKey, condKey := r.routeKeys(route.Name)
		ing.Annotations[actionKey], ing.Annotations[condKey] = act, conds
		keys[actionKey], keys[condKey] = true, true
		for i := range ing.Spec.Rules {
			rule := &ing.Spec.Rules[i]
			if rule.HTTP == nil || slices.ContainsFunc(rule.HTTP.Paths, func(p networkingv1.HTTPIngressPath) bool { return backend(p) == route.Name }) {
				continue
			}
			rule.HTTP.Paths = append([]networkingv1.HTTPIngressPath{routePath(route.Name)}, rule.HTTP.Paths...)
		}
		return nil
	})
}

// RemoveManagedRoutes removes every header route this rollout added (the
// bookkeeping annotation says which) and those spec.trafficRouting
// .managedRoutes names.
func (r *Router) RemoveManagedRoutes(ctx context.Context) error {
	return r.each(ctx, func(ing *networkingv1.Ingress, keys map[string]bool) error {
		names := map[string]bool{}
		for _, m := range r.ro.Spec.Strategy.Canary.TrafficRouting.ManagedRoutes {
			names[m.Name] = true
		}
		for k := range keys {
			if name, ok := strings.CutPrefix(k, r.prefix+"/actions."); ok && k != r.ActionKey() {
				names[name] = true
			}
		}
		for name := range names {
			r.removeRoute(ing, keys, name)
		}
		return nil
	})
}

func (r *Router) routeKeys(name string) (action, conds string) {
	return r.prefix + "/actions." + name, r.prefix + "/conditions." + name
}

// removeRoute takes a header route's annotations and paths off ing, if
// this rollout wrote them.
func (r *Router) removeRoute(ing *networkingv1.Ingress, keys map[string]bool, name string) {
	actionKey, condKey := r.routeKeys(name)
	if !keys[actionKey] && !keys[condKey] {
		return // not ours: another rollout's route, or the user's
	}
	delete(ing.Annotations, actionKey)
	delete(ing.Annotations, condKey)
	delete(keys, actionKey)
	delete(keys, condKey)
	for i := range ing.Spec.Rules {
		if h := ing.Spec.Rules[i].HTTP; h != nil {
			h.Paths = slices.DeleteFunc(h.Paths, func(p networkingv1.HTTPIngressPath) bool {
				return backend(p) == name && p.Backend.Service.Port.Name == UseAnnotation && p.Path == "/*"
			})
		}
	}
}

// each applies change to every Ingress of the rollout and patches what it
// changed (annotations, rules), with the resourceVersion it read so a
// concurrent change is never overwritten: on a conflict it reads again.
func (r *Router) each(ctx context.Context, change func(ing *networkingv1.Ingress, keys map[string]bool) error) error {
	for _, name := range r.Ingresses() {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			ing := &networkingv1.Ingress{}
			if err := r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.ro.Namespace, Name: name}, ing); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("the Ingress %q %w in namespace %s", name, trafficrouting.ErrMissing, r.ro.Namespace)
				}
				return fmt.Errorf("reading Ingress %s: %w", name, err)
			}
			if class := Class(ing); !slices.Contains(r.classes, class) {
				return fmt.Errorf("the Ingress %s has class %q, not one the ALB router serves (%s; ramp-controller --alb-ingress-classes)", name, class, strings.Join(r.classes, ", "))
			}
			orig := ing.DeepCopy()
			if ing.Annotations == nil {
				ing.Annotations = map[string]string{}
			}
			managed, err := readManaged(ing)
			if err != nil {
				return err
			}
			keys := map[string]bool{}
			for _, k := range managed[r.ro.Name] {
				keys[k] = true
			}
			if err := change(ing, keys); err != nil {
				return err
			}
			managed[r.ro.Name] = slices.Sorted(maps.Keys(keys))
			writeManaged(ing, managed)
			if maps.Equal(orig.Annotations, ing.Annotations) && apiequality.Semantic.DeepEqual(orig.Spec.Rules, ing.Spec.Rules) {
				return nil
			}
			return r.writer.Patch(ctx, ing, ctrl.MergeFromWithOptions(orig, ctrl.MergeFromWithOptimisticLock{}))
		})
		if err != nil {
			if apierrors.IsConflict(err) || apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
				return fmt.Errorf("patching Ingress %s: %w", name, err)
			}
			return err
		}
	}
	return nil
}

// Class is an Ingress's class: spec.ingressClassName, else the
// kubernetes.io/ingress.class annotation, else "".
func Class(ing *networkingv1.Ingress) string {
	if ing.Spec.IngressClassName != nil {
		return *ing.Spec.IngressClassName
	}
	return ing.Annotations["kubernetes.io/ingress.class"]
}

// readManaged decodes the bookkeeping annotation; an unreadable one is an
// error rather than a reason to forget other rollouts' keys.
func readManaged(ing *networkingv1.Ingress) (map[string][]string, error) {
	out := map[string][]string{}
	if v, ok := ing.Annotations[ManagedAnnotationsKey]; ok && v != "" {
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			return nil, fmt.Errorf("the Ingress %s: annotation %s is not a JSON map of rollout names to annotation keys: %v", ing.Name, ManagedAnnotationsKey, err)
		}
	}
	return out, nil
}

func writeManaged(ing *networkingv1.Ingress, managed map[string][]string) {
	for k, v := range managed {
		if len(v) == 0 {
			delete(managed, k)
		}
	}
	if len(managed) == 0 {
		delete(ing.Annotations, ManagedAnnotationsKey)
		return
	}
	ing.Annotations[ManagedAnnotationsKey] = encode(managed) // encoding/json sorts map keys
}

func backend(p networkingv1.HTTPIngressPath) string {
	if p.Backend.Service == nil {
		return ""
	}
	return p.Backend.Service.Name
}

// routesThrough reports whether some path of ing sends to service through
// the actions annotation.
func routesThrough(ing *networkingv1.Ingress, service string) bool {
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if backend(p) == service && p.Backend.Service.Port.Name == UseAnnotation {
				return true
			}
		}
	}
	return false
}

func routePath(service string) networkingv1.HTTPIngressPath {
	pt := networkingv1.PathTypeImplementationSpecific
	return networkingv1.HTTPIngressPath{
		Path:     "/*",
		PathType: &pt,
		Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: service, Port: networkingv1.ServiceBackendPort{Name: UseAnnotation},
		}},
	}
}
