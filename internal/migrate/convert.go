package migrate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// ArgoAPIVersion is Argo Rollouts' API group and version.
const ArgoAPIVersion = "argoproj.io/v1alpha1"

// argoKinds are the kinds whose apiVersion Convert rewrites.
var argoKinds = []string{"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment"}

// renamedKeys are Argo Rollouts' label and annotation keys (or key
// prefixes, ending in "/") and Ramp's.
var renamedKeys = [][2]string{
	{"argo-rollouts.argoproj.io/managed-by-rollouts", v1alpha1.ManagedByRolloutsKey},
	{"argo-rollouts.argoproj.io/restarted-after", v1alpha1.RestartedAfterAnnotationKey},
	{"argo-rollouts.argoproj.io/controller-instance-id", v1alpha1.InstanceIDLabelKey},
	{"rollout.argoproj.io/", "rollout.ramp.dev/"},
	{"experiment.argoproj.io/", "experiment.ramp.dev/"},
}

// builtInProviders and builtInRouters are what Ramp's controller runs
// today; other blocks are carried over (the API accepts them) and
// reported.
var (
	builtInProviders = []string{"prometheus", "web", "job", "cloudWatch", "datadog", "graphite", "skywalking", "wavefront", "newRelic", "kayenta", "influxdb"}
	builtInRouters   = []string{"alb", "nginx", "istio", "smi", "gatewayAPI", "traefik", "apisix", "ambassador", "managedRoutes", "maxTrafficWeight"}
)

// Convert rewrites one Argo Rollouts object (decoded JSON or YAML) to
// Ramp's API in place: the apiVersion, and Argo's label and annotation keys
// in its metadata and pod template. It returns what Ramp's controller
// would not run (a router, step or metric provider), one note per field;
// objects of other APIs are left alone.
func Convert(obj map[string]any) []string {
	api, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if api != ArgoAPIVersion || !slices.Contains(argoKinds, kind) {
		return nil
	}
	obj["apiVersion"] = v1alpha1.SchemeGroupVersion.String()
	renameKeys(obj, "metadata")
	spec, _ := obj["spec"].(map[string]any)
	renameKeys(spec, "template", "metadata")
	switch kind {
	case "Rollout":
		return rolloutNotes(spec)
	case "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun":
		return metricNotes(spec, "spec")
	case "Experiment":
		return experimentNotes(spec)
	}
	return nil
}

// renameKeys renames Argo's keys in the labels and annotations of the
// metadata at path under obj.
func renameKeys(obj map[string]any, path ...string) {
	for _, p := range path {
		next, _ := obj[p].(map[string]any)
		if next == nil {
			return
		}
		obj = next
	}
	for _, which := range []string{"labels", "annotations"} {
		m, _ := obj[which].(map[string]any)
		for k, v := range m {
			for _, r := range renamedKeys {
				if k == r[0] || (strings.HasSuffix(r[0], "/") && strings.HasPrefix(k, r[0])) {
					delete(m, k)
					m[r[1]+strings.TrimPrefix(k, r[0])] = v
					break
				}
			}
		}
	}
}

func rolloutNotes(spec map[string]any) []string {
	var notes []string
	strategy, _ := spec["strategy"].(map[string]any)
	c, _ := strategy["canary"].(map[string]any)
	if c == nil {
		return nil
	}
	steps, _ := c["steps"].([]any)
	tr, _ := c["trafficRouting"].(map[string]any)
	for i, s := range steps {
		step, _ := s.(map[string]any)
		if step["plugin"] != nil {
			notes = append(notes, fmt.Sprintf("spec.strategy.canary.steps[%d].plugin: Ramp's controller does not run plugin steps; the rollout will be InvalidSpec", i))
		}
		notes = append(notes, weightedTemplateNotes(step, i, tr)...)
	}
	if tr != nil {
		notes = append(notes, builtInPlugin(tr)...)
		var names []string
		for k := range tr {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, name := range names {
			switch {
			case name == "plugins":
				plugins, _ := tr["plugins"].(map[string]any)
				for p := range plugins {
					if p != trafficrouting.GatewayAPIPlugin {
						notes = append(notes, fmt.Sprintf("spec.strategy.canary.trafficRouting.plugins.%s: Ramp has no plugin routers; the rollout will be InvalidSpec", p))
					}
				}
			case name == "appMesh":
				notes = append(notes, "spec.strategy.canary.trafficRouting.appMesh: AWS discontinued App Mesh on 30 September 2026, so Ramp has no App Mesh router; the rollout will be InvalidSpec (route through Gateway API with Amazon VPC Lattice, or an ALB)")
			case !slices.Contains(builtInRouters, name):
				notes = append(notes, fmt.Sprintf("spec.strategy.canary.trafficRouting.%s: the %s router is not built into Ramp; the rollout will be InvalidSpec", name, name))
			}
		}
	}
	return notes
}

// weightedTemplateNotes reports the weighted templates of an experiment
// step whose routers cannot send them traffic: only ALB, Istio and SMI
// can.
func weightedTemplateNotes(step map[string]any, i int, tr map[string]any) []string {
	exp, _ := step["experiment"].(map[string]any)
	templates, _ := exp["templates"].([]any)
	var notes []string
	for j, t := range templates {
		if tpl, _ := t.(map[string]any); tpl["weight"] == nil {
			continue
		}
		var others []string
		for name := range tr {
			if name != "alb" && name != "istio" && name != "smi" && name != "managedRoutes" && name != "maxTrafficWeight" {
				others = append(others, name)
			}
		}
		slices.Sort(others)
		switch {
		case tr == nil:
			notes = append(notes, fmt.Sprintf("spec.strategy.canary.steps[%d].experiment.templates[%d].weight: a weighted template needs traffic routing; the rollout will be InvalidSpec", i, j))
		case len(others) > 0:
			notes = append(notes, fmt.Sprintf("spec.strategy.canary.steps[%d].experiment.templates[%d].weight: the %s router cannot send traffic to experiment templates (ALB, Istio and SMI can); the rollout will be InvalidSpec", i, j, strings.Join(others, ", ")))
		}
	}
	return notes
}

// experimentNotes reports what of an Experiment Ramp does not run: its
// analyses' providers are the AnalysisTemplates' concern.
func experimentNotes(spec map[string]any) []string {
	return metricNotes(spec, "spec")
}

// metricNotes reports metrics whose provider Ramp does not run.
func metricNotes(spec map[string]any, path string) []string {
	var notes []string
	metrics, _ := spec["metrics"].([]any)
	for i, m := range metrics {
		metric, _ := m.(map[string]any)
		provider, _ := metric["provider"].(map[string]any)
		for name := range provider {
			if !slices.Contains(builtInProviders, name) {
				notes = append(notes, fmt.Sprintf("%s.metrics[%d].provider.%s: the %s provider is not available in Ramp yet; measurements of metric %q will be errors", path, i, name, name, metric["name"]))
			}
		}
	}
	return notes
}

// builtInPlugin rewrites the Gateway API plugin's configuration to Ramp's
// built-in gatewayAPI block, which takes the same fields.
func builtInPlugin(tr map[string]any) []string {
	plugins, _ := tr["plugins"].(map[string]any)
	cfg, ok := plugins[trafficrouting.GatewayAPIPlugin]
	if !ok {
		return nil
	}
	if _, both := tr["gatewayAPI"]; both {
		return []string{"spec.strategy.canary.trafficRouting.plugins." + trafficrouting.GatewayAPIPlugin + ": gatewayAPI is set too; keep one of them"}
	}
	tr["gatewayAPI"] = cfg
	delete(plugins, trafficrouting.GatewayAPIPlugin)
	if len(plugins) == 0 {
		delete(tr, "plugins")
	}
	return nil
}
