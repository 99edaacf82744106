// Package v1alpha1 holds Ramp's API, group ramp.dev, version v1alpha1.
//
// The kinds are Rollout, AnalysisTemplate, ClusterAnalysisTemplate,
// AnalysisRun and Experiment. Field names, JSON types, defaults and meaning
// follow Argo Rollouts' argoproj.io/v1alpha1 API, so an Argo Rollouts
// manifest is accepted once its apiVersion reads ramp.dev/v1alpha1.
//
// This package lives in its own Go module (github.com/rampdev/ramp/api) and
// depends only on the standard library, k8s.io/api and k8s.io/apimachinery,
// so that other programs can import the types cheaply.
//
// # Validation
//
// Single-field rules (enums, ranges, patterns, required fields) are
// kubebuilder markers on the fields. Cross-field rules are CEL rules
// (x-kubernetes-validations) on the types that hold the fields, so the API
// server refuses a bad manifest with a message naming the field. Rules that
// need more context than one object, or that CEL cannot say cheaply, live in
// the Go validator (internal/validation), which the controller reports as an
// InvalidSpec condition and `ramp lint` prints offline.
//
// CEL rules never compare with an empty string literal (two single quotes):
// gofmt rewrites two single quotes in a comment into a typographic quote,
// which breaks the rule. Write size(self.x) == 0 instead.
//
// # Defaults
//
// As in Argo Rollouts, defaults are not written into stored objects by the
// API server: they are applied when the object is read, through the Get*
// helpers in defaults.go (for example RolloutSpec.GetReplicas). What a user
// applied is what they read back, so GitOps tools see no drift.
//
// +kubebuilder:object:generate=true
// +groupName=ramp.dev
package v1alpha1
