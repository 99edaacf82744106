// Package argocd holds Argo CD's resource customizations for Ramp's kinds:
// Lua health checks for Rollouts, AnalysisRuns and Experiments, and
// resource actions for Rollouts (promote, promote-full, abort, retry,
// restart, pause, resume, skip-current-step) and AnalysisRuns (terminate),
// written as Argo CD's own scripts for argoproj.io kinds are written
// (<Kind>/health.lua, <Kind>/actions/discovery.lua,
// <Kind>/actions/<action>/action.lua).
//
// argocd-cm.yaml, generated from the scripts by `make generate`, carries
// them as the resource.customizations.* keys of Argo CD's argocd-cm
// ConfigMap. The tests run every script with gopher-lua, the interpreter
// Argo CD embeds, against rollouts, runs and experiments the controller
// moves through their phases on the in-process cluster.
package argocd
