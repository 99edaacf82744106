package validation

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Router capabilities, by the name of the trafficRouting block.
var (
	headerRouteRouters = map[string]bool{"istio": true, "alb": true, "apisix": true, "gatewayAPI": true, "plugins": true}
	mirrorRouteRouters = map[string]bool{"istio": true, "gatewayAPI": true, "plugins": true}
	maxWeightRouters   = map[string]bool{"nginx": true, "gatewayAPI": true, "plugins": true}
	pingPongRouters    = map[string]bool{"alb": true, "istio": true, "plugins": true}
)

// routers lists the trafficRouting blocks that are set, in a stable order.
func routers(tr *v1alpha1.RolloutTrafficRouting) []string {
	if tr == nil {
		return nil
	}
	set := map[string]bool{
		"istio": tr.Istio != nil, "nginx": tr.Nginx != nil, "alb": tr.ALB != nil, "smi": tr.SMI != nil,
		"ambassador": tr.Ambassador != nil, "appMesh": tr.AppMesh != nil, "traefik": tr.Traefik != nil,
		"apisix": tr.Apisix != nil, "gatewayAPI": tr.GatewayAPI != nil, "plugins": len(tr.Plugins) > 0,
	}
	var out []string
	for name, on := range set {
		if on {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// unsupported lists the routers among names that lack a capability.
func unsupported(names []string, capable map[string]bool) []string {
	var out []string
	for _, n := range names {
		if !capable[n] {
			out = append(out, n)
		}
	}
	return out
}

func canary(spec *v1alpha1.RolloutSpec, c *v1alpha1.CanaryStrategy, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	tr := c.TrafficRouting
	names := routers(tr)
	if c.CanaryService != "" && c.CanaryService == c.StableService {
		errs = append(errs, field.Invalid(path.Child("canaryService"), c.CanaryService, "must differ from stableService"))
	}
	surgeZero, e := intOrPercent(c.MaxSurge, path.Child("maxSurge"))
	errs = append(errs, e...)
	unavailZero, e := intOrPercent(c.MaxUnavailable, path.Child("maxUnavailable"))
	errs = append(errs, e...)
	if surgeZero && unavailZero {
		errs = append(errs, field.Invalid(path.Child("maxUnavailable"), c.MaxUnavailable.String(), "maxSurge and maxUnavailable cannot both be 0"))
	}
	errs = append(errs, nonNegative(c.ScaleDownDelaySeconds, path.Child("scaleDownDelaySeconds"))...)
	errs = append(errs, nonNegative(c.AbortScaleDownDelaySeconds, path.Child("abortScaleDownDelaySeconds"))...)
	errs = append(errs, scaleDownDelayRevisionLimit(spec, c.ScaleDownDelayRevisionLimit, path.Child("scaleDownDelayRevisionLimit"))...)
	if c.MinPodsPerReplicaSet != nil && *c.MinPodsPerReplicaSet < 1 {
		errs = append(errs, field.Invalid(path.Child("minPodsPerReplicaSet"), *c.MinPodsPerReplicaSet, "must be at least 1"))
	}
	if t := c.ReplicaProgressThreshold; t != nil {
		p := path.Child("replicaProgressThreshold")
		switch t.Type {
		case v1alpha1.ProgressTypePercent:
			if t.Value < 1 || t.Value > 100 {
				errs = append(errs, field.Invalid(p.Child("value"), t.Value, "must be between 1 and 100 when type is Percent"))
			}
		case v1alpha1.ProgressTypePods:
			if t.Value < 1 {
				errs = append(errs, field.Invalid(p.Child("value"), t.Value, "must be at least 1"))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), string(t.Type), []string{string(v1alpha1.ProgressTypePercent), string(v1alpha1.ProgressTypePods)}))
		}
	}
	errs = append(errs, antiAffinity(c.AntiAffinity, path.Child("antiAffinity"))...)
	if tr == nil {
		for _, f := range []struct {
			set  bool
			name string
		}{
			{c.DynamicStableScale, "dynamicStableScale"},
			{c.ScaleDownDelaySeconds != nil, "scaleDownDelaySeconds"},
			{c.AbortScaleDownDelaySeconds != nil, "abortScaleDownDelaySeconds"},
			{c.PingPong != nil, "pingPong"},
		} {
			if f.set {
				errs = append(errs, field.Forbidden(path.Child(f.name), "requires trafficRouting"))
			}
		}
	} else {
		errs = append(errs, trafficRouting(c, tr, names, path)...)
	}
	if a := c.Analysis; a != nil {
		p := path.Child("analysis")
		errs = append(errs, rolloutAnalysis(&a.RolloutAnalysis, p)...)
		if s := a.StartingStep; s != nil && (*s < 0 || (len(c.Steps) > 0 && int(*s) >= len(c.Steps))) {
			errs = append(errs, field.Invalid(p.Child("startingStep"), *s, fmt.Sprintf("must be a step index between 0 and %d", max(len(c.Steps)-1, 0))))
		}
	}
	errs = append(errs, steps(c, names, path.Child("steps"))...)
	return errs
}

func trafficRouting(c *v1alpha1.CanaryStrategy, tr *v1alpha1.RolloutTrafficRouting, names []string, canaryPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	path := canaryPath.Child("trafficRouting")
	if len(names) == 0 {
		errs = append(errs, field.Required(path, "at least one router (istio, nginx, alb, smi, ambassador, appMesh, traefik, apisix, gatewayAPI or plugins)"))
	}
	if pp := c.PingPong; pp != nil {
		p := canaryPath.Child("pingPong")
		if pp.PingService == "" || pp.PongService == "" {
			errs = append(errs, field.Required(p, "both pingService and pongService"))
		} else if pp.PingService == pp.PongService {
			errs = append(errs, field.Invalid(p.Child("pongService"), pp.PongService, "must differ from pingService"))
		}
		if c.CanaryService != "" || c.StableService != "" {
			errs = append(errs, field.Forbidden(p, "pingPong replaces canaryService and stableService; set one or the other"))
		}
		if bad := unsupported(names, pingPongRouters); len(bad) > 0 {
			errs = append(errs, field.Forbidden(p, "not supported by the "+strings.Join(bad, ", ")+" router (pingPong works with alb, istio and plugins)"))
		}
		if tr.ALB != nil && tr.ALB.RootService == "" {
			errs = append(errs, field.Required(path.Child("alb", "rootService"), "required with pingPong"))
		}
	} else if c.CanaryService == "" || c.StableService == "" {
		subsetSplit := tr.Istio != nil && tr.Istio.DestinationRule != nil
		if !subsetSplit && tr.AppMesh == nil {
			errs = append(errs, field.Required(canaryPath.Child("stableService"), "canaryService and stableService are required with trafficRouting"))
		}
	}
	if tr.MaxTrafficWeight != nil {
		if *tr.MaxTrafficWeight < 1 {
			errs = append(errs, field.Invalid(path.Child("maxTrafficWeight"), *tr.MaxTrafficWeight, "must be at least 1"))
		}
		if bad := unsupported(names, maxWeightRouters); len(bad) > 0 {
			errs = append(errs, field.Forbidden(path.Child("maxTrafficWeight"), "not supported by the "+strings.Join(bad, ", ")+" router (only nginx, gatewayAPI and plugins)"))
		}
	}
	seen := nameSet{}
	for i, r := range tr.ManagedRoutes {
		p := path.Child("managedRoutes").Index(i).Child("name")
		errs = append(errs, seen.check(r.Name, p, "a route name")...)
	}
	if a := tr.ALB; a != nil {
		p := path.Child("alb")
		if (a.Ingress == "") == (len(a.Ingresses) == 0) {
			errs = append(errs, field.Invalid(p, "", "exactly one of ingress or ingresses must be set"))
		}
		if a.ServicePort < 1 || a.ServicePort > 65535 {
			errs = append(errs, field.Invalid(p.Child("servicePort"), a.ServicePort, "must be a port between 1 and 65535"))
		}
		if s := a.StickinessConfig; s != nil && s.Enabled && (s.DurationSeconds < 1 || s.DurationSeconds > 604800) {
			errs = append(errs, field.Invalid(p.Child("stickinessConfig", "durationSeconds"), s.DurationSeconds, "must be between 1 and 604800"))
		}
	}
	if n := tr.Nginx; n != nil && (n.StableIngress == "") == (len(n.StableIngresses) == 0) {
		errs = append(errs, field.Invalid(path.Child("nginx"), "", "exactly one of stableIngress or stableIngresses must be set"))
	}
	if is := tr.Istio; is != nil {
		p := path.Child("istio")
		if (is.VirtualService == nil) == (len(is.VirtualServices) == 0) {
			errs = append(errs, field.Invalid(p, "", "exactly one of virtualService or virtualServices must be set"))
		}
		if is.VirtualService != nil && is.VirtualService.Name == "" {
			errs = append(errs, field.Required(p.Child("virtualService", "name"), "the VirtualService's name"))
		}
		for i, vs := range is.VirtualServices {
			if vs.Name == "" {
				errs = append(errs, field.Required(p.Child("virtualServices").Index(i).Child("name"), "the VirtualService's name"))
			}
		}
		if dr := is.DestinationRule; dr != nil {
			dp := p.Child("destinationRule")
			if dr.Name == "" || dr.CanarySubsetName == "" || dr.StableSubsetName == "" {
				errs = append(errs, field.Required(dp, "name, canarySubsetName and stableSubsetName"))
			} else if dr.CanarySubsetName == dr.StableSubsetName {
				errs = append(errs, field.Invalid(dp.Child("canarySubsetName"), dr.CanarySubsetName, "must differ from stableSubsetName"))
			}
		}
	}
	if a := tr.Ambassador; a != nil && len(a.Mappings) == 0 {
		errs = append(errs, field.Required(path.Child("ambassador", "mappings"), "at least one Mapping"))
	}
	if t := tr.Traefik; t != nil && t.WeightedTraefikServiceName == "" {
		errs = append(errs, field.Required(path.Child("traefik", "weightedTraefikServiceName"), "the TraefikService's name"))
	}
	if g := tr.GatewayAPI; g != nil {
		if g.HTTPRoute == "" && g.GRPCRoute == "" && g.TCPRoute == "" && len(g.HTTPRoutes)+len(g.GRPCRoutes)+len(g.TCPRoutes) == 0 {
			errs = append(errs, field.Required(path.Child("gatewayAPI"), "at least one of httpRoute, httpRoutes, grpcRoute, grpcRoutes, tcpRoute or tcpRoutes"))
		}
	}
	return errs
}

func steps(c *v1alpha1.CanaryStrategy, names []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	managed := map[string]bool{}
	if c.TrafficRouting != nil {
		for _, r := range c.TrafficRouting.ManagedRoutes {
			managed[r.Name] = true
		}
	}
	maxWeight := c.GetMaxTrafficWeight()
	for i := range c.Steps {
		s := &c.Steps[i]
		p := path.Index(i)
		primary, others := count(s.SetWeight != nil, s.Pause != nil, s.Experiment != nil, s.Analysis != nil),
			count(s.SetCanaryScale != nil, s.SetHeaderRoute != nil, s.SetMirrorRoute != nil, s.Plugin != nil)
		switch {
		case primary+others == 0:
			errs = append(errs, field.Invalid(p, "0 actions",
				"a step must set at least one of setWeight, pause, experiment, analysis, setCanaryScale, setHeaderRoute, setMirrorRoute or plugin"))
		case primary > 1:
			errs = append(errs, field.Invalid(p, fmt.Sprintf("%d of them", primary),
				"a step may set only one of setWeight, pause, experiment or analysis"))
		}
		if w := s.SetWeight; w != nil && (*w < 0 || *w > maxWeight) {
			errs = append(errs, field.Invalid(p.Child("setWeight"), *w, fmt.Sprintf("must be between 0 and %d (trafficRouting.maxTrafficWeight)", maxWeight)))
		}
		if s.Pause != nil {
			errs = append(errs, pauseDuration(s.Pause.Duration, p.Child("pause", "duration"))...)
		}
		if s.Analysis != nil {
			errs = append(errs, rolloutAnalysis(s.Analysis, p.Child("analysis"))...)
		}
		if s.Experiment != nil {
			errs = append(errs, experimentStep(s.Experiment, p.Child("experiment"))...)
		}
		if cs := s.SetCanaryScale; cs != nil {
			cp := p.Child("setCanaryScale")
			if c.TrafficRouting == nil {
				errs = append(errs, field.Forbidden(cp, "requires trafficRouting"))
			}
			n := 0
			for _, set := range []bool{cs.Weight != nil, cs.Replicas != nil, cs.MatchTrafficWeight} {
				if set {
					n++
				}
			}
			if n != 1 {
				errs = append(errs, field.Invalid(cp, "", "exactly one of weight, replicas or matchTrafficWeight must be set"))
			}
			if cs.Weight != nil && (*cs.Weight < 0 || *cs.Weight > 100) {
				errs = append(errs, field.Invalid(cp.Child("weight"), *cs.Weight, "must be between 0 and 100"))
			}
			errs = append(errs, nonNegative(cs.Replicas, cp.Child("replicas"))...)
		}
		if hr := s.SetHeaderRoute; hr != nil {
			hp := p.Child("setHeaderRoute")
			errs = append(errs, routeStep(c, managed, names, hr.Name, headerRouteRouters, "header routes", hp)...)
			for j, m := range hr.Match {
				mp := hp.Child("match").Index(j)
				if m.HeaderName == "" {
					errs = append(errs, field.Required(mp.Child("headerName"), "a header name"))
				}
				if m.HeaderValue == nil {
					errs = append(errs, field.Required(mp.Child("headerValue"), "exact, prefix or regex"))
					continue
				}
				errs = append(errs, stringMatch(m.HeaderValue, mp.Child("headerValue"))...)
				if c.TrafficRouting != nil && c.TrafficRouting.ALB != nil && m.HeaderValue.Exact == "" {
					errs = append(errs, field.Forbidden(mp.Child("headerValue"), "the alb router matches header values exactly; prefix and regex are not supported"))
				}
			}
		}
		if mr := s.SetMirrorRoute; mr != nil {
			mp := p.Child("setMirrorRoute")
			errs = append(errs, routeStep(c, managed, names, mr.Name, mirrorRouteRouters, "mirror routes", mp)...)
			if mr.Percentage != nil && (*mr.Percentage < 0 || *mr.Percentage > 100) {
				errs = append(errs, field.Invalid(mp.Child("percentage"), *mr.Percentage, "must be between 0 and 100"))
			}
			for j, m := range mr.Match {
				xp := mp.Child("match").Index(j)
				if m.Method != nil {
					errs = append(errs, stringMatch(m.Method, xp.Child("method"))...)
				}
				if m.Path != nil {
					errs = append(errs, stringMatch(m.Path, xp.Child("path"))...)
				}
				keys := make([]string, 0, len(m.Headers))
				for k := range m.Headers {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					v := m.Headers[k]
					errs = append(errs, stringMatch(&v, xp.Child("headers").Key(k))...)
				}
			}
		}
		if pl := s.Plugin; pl != nil && pl.Name == "" {
			errs = append(errs, field.Required(p.Child("plugin", "name"), "the plugin's name"))
		}
	}
	return errs
}

// routeStep checks what setHeaderRoute and setMirrorRoute share: a traffic
// router that can do it, and a route listed in managedRoutes.
func routeStep(c *v1alpha1.CanaryStrategy, managed map[string]bool, names []string, name string, capable map[string]bool, what string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.TrafficRouting == nil {
		return field.ErrorList{field.Forbidden(path, "requires trafficRouting")}
	}
	if bad := unsupported(names, capable); len(bad) > 0 {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("the %s router cannot do %s", strings.Join(bad, ", "), what)))
	}
	if name == "" {
		errs = append(errs, field.Required(path.Child("name"), "a route listed in trafficRouting.managedRoutes"))
	} else if !managed[name] {
		errs = append(errs, field.Invalid(path.Child("name"), name, "must be listed in trafficRouting.managedRoutes"))
	}
	return errs
}

func stringMatch(m *v1alpha1.StringMatch, path *field.Path) field.ErrorList {
	n := 0
	for _, s := range []string{m.Exact, m.Prefix, m.Regex} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return field.ErrorList{field.Invalid(path, "", "exactly one of exact, prefix or regex must be set")}
	}
	return nil
}

func experimentStep(e *v1alpha1.RolloutExperimentStep, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, duration(e.Duration, path.Child("duration"))...)
	if len(e.Templates) == 0 {
		errs = append(errs, field.Required(path.Child("templates"), "at least one template"))
	}
	seen := nameSet{}
	var weight int32
	for i, t := range e.Templates {
		p := path.Child("templates").Index(i)
		errs = append(errs, seen.check(t.Name, p.Child("name"), "a template name")...)
		if t.SpecRef != v1alpha1.CanarySpecRef && t.SpecRef != v1alpha1.StableSpecRef {
			errs = append(errs, field.NotSupported(p.Child("specRef"), string(t.SpecRef), []string{"canary", "stable"}))
		}
		errs = append(errs, nonNegative(t.Replicas, p.Child("replicas"))...)
		if t.Weight != nil {
			weight += *t.Weight
		}
	}
	if weight > 100 {
		errs = append(errs, field.Invalid(path.Child("templates"), weight, "the templates' weights must add up to at most 100"))
	}
	aseen := nameSet{}
	for i, a := range e.Analyses {
		p := path.Child("analyses").Index(i)
		errs = append(errs, aseen.check(a.Name, p.Child("name"), "an analysis name")...)
		if a.TemplateName == "" {
			errs = append(errs, field.Required(p.Child("templateName"), "the name of an AnalysisTemplate"))
		}
		errs = append(errs, rolloutArgs(a.Args, p.Child("args"))...)
	}
	errs = append(errs, dryRunAndRetention(e.DryRun, nil, nil, path)...)
	return errs
}

// count is how many of set are true.
func count(set ...bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}
