package v1alpha1

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// CanaryStrategy configures a canary release.
//
// +kubebuilder:validation:XValidation:rule="!has(self.canaryService) || !has(self.stableService) || size(self.canaryService) == 0 || self.canaryService != self.stableService",message="spec.strategy.canary.canaryService must differ from stableService"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || self.steps.all(s, !has(s.setWeight) || s.setWeight <= (has(self.trafficRouting) && has(self.trafficRouting.maxTrafficWeight) ? self.trafficRouting.maxTrafficWeight : 100))",message="spec.strategy.canary.steps[].setWeight must be between 0 and trafficRouting.maxTrafficWeight (100 when unset)"
// +kubebuilder:validation:XValidation:rule="!has(self.maxSurge) || !has(self.maxUnavailable) || !((self.maxSurge == 0 || self.maxSurge == '0%') && (self.maxUnavailable == 0 || self.maxUnavailable == '0%'))",message="spec.strategy.canary.maxSurge and maxUnavailable cannot both be 0"
type CanaryStrategy struct {
	// CanaryService is the Service whose selector follows the canary
	// ReplicaSet. Required for traffic routing.
	// +optional
	CanaryService string `json:"canaryService,omitempty"`
	// StableService is the Service whose selector follows the stable
	// ReplicaSet. Required for traffic routing.
	// +optional
	StableService string `json:"stableService,omitempty"`
	// Steps are the stages of the release. Without steps, the update is a
	// rolling update like a Deployment's. Steps are skipped on the first
	// deploy.
	// +optional
	// +kubebuilder:validation:MaxItems=100
	Steps []CanaryStep `json:"steps,omitempty"`
	// TrafficRouting sends a share of requests to the canary through a
	// router. Without it, the weight is approximated with replica counts.
	// +optional
	TrafficRouting *RolloutTrafficRouting `json:"trafficRouting,omitempty"`
	// MaxUnavailable is the most pods that may be unavailable during the
	// update. Defaults to 25%.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[0-9]+%$')",message="must be a non-negative integer or a percentage such as 25%"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// MaxSurge is the most pods that may be created above the desired
	// count during the update. Defaults to 25%.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[0-9]+%$')",message="must be a non-negative integer or a percentage such as 25%"
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
	// Analysis runs in the background during the steps, from startingStep;
	// failure aborts.
	// +optional
	Analysis *RolloutAnalysisBackground `json:"analysis,omitempty"`
	// AntiAffinity keeps canary pods off the nodes of the stable version.
	// +optional
	AntiAffinity *AntiAffinity `json:"antiAffinity,omitempty"`
	// CanaryMetadata is added to pods while they are the canary.
	// +optional
	CanaryMetadata *PodTemplateMetadata `json:"canaryMetadata,omitempty"`
	// StableMetadata is added to pods while they are the stable version.
	// +optional
	StableMetadata *PodTemplateMetadata `json:"stableMetadata,omitempty"`
	// ScaleDownDelaySeconds is how long the old ReplicaSet stays up after the
	// stable Service switches. Traffic routing only. Defaults to 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// ScaleDownDelayRevisionLimit is the most old ReplicaSets kept up while
	// they wait for their scale-down delay.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	// AbortScaleDownDelaySeconds is how long the canary stays up after an
	// abort. 0 means it is never scaled down. Traffic routing only.
	// Defaults to 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
	// DynamicStableScale scales the stable ReplicaSet down as the canary
	// weight rises. Traffic routing only.
	// +optional
	DynamicStableScale bool `json:"dynamicStableScale,omitempty"`
	// PingPong alternates the stable role between two Services with fixed
	// selectors instead of swapping selectors.
	// +optional
	PingPong *PingPongSpec `json:"pingPong,omitempty"`
	// MinPodsPerReplicaSet is the fewest pods a non-empty ReplicaSet keeps,
	// for availability. Traffic routing only. Defaults to 1.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MinPodsPerReplicaSet *int32 `json:"minPodsPerReplicaSet,omitempty"`
	// ReplicaProgressThreshold lets a step proceed once this share of the
	// step's desired pods is available. Defaults to 100%.
	// +optional
	ReplicaProgressThreshold *ReplicaProgressThreshold `json:"replicaProgressThreshold,omitempty"`
}

// ProgressType is the unit of a ReplicaProgressThreshold.
// +kubebuilder:validation:Enum=Percent;Pods
type ProgressType string

// Values of ProgressType.
const (
	ProgressTypePercent ProgressType = "Percent"
	ProgressTypePods    ProgressType = "Pods"
)

// ReplicaProgressThreshold is a share of a step's desired pods.
//
// +kubebuilder:validation:XValidation:rule="self.type != 'Percent' || (self.value >= 1 && self.value <= 100)",message="replicaProgressThreshold.value must be between 1 and 100 when type is Percent"
type ReplicaProgressThreshold struct {
	// Type is Percent or Pods.
	Type ProgressType `json:"type"`
	// Value is the percentage or pod count.
	// +kubebuilder:validation:Minimum=1
	Value int32 `json:"value"`
}

// PingPongSpec names the two Services that alternate as stable and canary.
type PingPongSpec struct {
	// PingService is one of the two Services.
	// +kubebuilder:validation:MinLength=1
	PingService string `json:"pingService"`
	// PongService is the other Service.
	// +kubebuilder:validation:MinLength=1
	PongService string `json:"pongService"`
}

// PingPongType says which ping-pong Service is currently stable.
type PingPongType string

// Values of PingPongType.
const (
	PPPing PingPongType = "ping"
	PPPong PingPongType = "pong"
)

// CanaryStep is one stage of a canary release. It sets at least one action;
// setWeight, pause, experiment and analysis exclude one another, and
// setCanaryScale, setHeaderRoute, setMirrorRoute and plugin may come with
// one of them (as in Argo Rollouts): the sizes and routes are set first,
// then the step waits for its weight, pause, experiment or analysis.
//
// +kubebuilder:validation:XValidation:rule="[has(self.setWeight), has(self.pause), has(self.experiment), has(self.analysis), has(self.setCanaryScale), has(self.setHeaderRoute), has(self.setMirrorRoute), has(self.plugin)].exists(x, x)",message="a canary step must set at least one of setWeight, pause, experiment, analysis, setCanaryScale, setHeaderRoute, setMirrorRoute or plugin"
// +kubebuilder:validation:XValidation:rule="[has(self.setWeight), has(self.pause), has(self.experiment), has(self.analysis)].filter(x, x).size() <= 1",message="a canary step may set only one of setWeight, pause, experiment or analysis"
type CanaryStep struct {
	// SetWeight sends this percentage of traffic to the canary.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SetWeight *int32 `json:"setWeight,omitempty"`
	// Pause stops the rollout for a duration, or until promoted.
	// +optional
	Pause *RolloutPause `json:"pause,omitempty"`
	// Experiment runs an Experiment and waits for it.
	// +optional
	Experiment *RolloutExperimentStep `json:"experiment,omitempty"`
	// Analysis runs an AnalysisRun and waits for it.
	// +optional
	Analysis *RolloutAnalysis `json:"analysis,omitempty"`
	// SetCanaryScale sets the canary's pod count apart from its weight.
	// Traffic routing only.
	// +optional
	SetCanaryScale *SetCanaryScale `json:"setCanaryScale,omitempty"`
	// SetHeaderRoute sends requests that match headers to the canary.
	// +optional
	SetHeaderRoute *SetHeaderRoute `json:"setHeaderRoute,omitempty"`
	// SetMirrorRoute mirrors matching requests to the canary.
	// +optional
	SetMirrorRoute *SetMirrorRoute `json:"setMirrorRoute,omitempty"`
	// Plugin runs a step plugin.
	// +optional
	Plugin *PluginStep `json:"plugin,omitempty"`
}

// RolloutPause is a pause step.
type RolloutPause struct {
	// Duration is a number of seconds, or a string with a unit (30s, 5m,
	// 1h). Without it the pause lasts until the rollout is promoted.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^([0-9]+|([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$')",message="pause.duration must be a number of seconds or a duration such as 30s, 5m or 1h"
	Duration *intstr.IntOrString `json:"duration,omitempty"`
}

// SetCanaryScale sets the canary's size apart from its traffic weight.
//
// +kubebuilder:validation:XValidation:rule="[has(self.weight), has(self.replicas), has(self.matchTrafficWeight) && self.matchTrafficWeight].filter(x, x).size() == 1",message="setCanaryScale needs exactly one of weight, replicas or matchTrafficWeight"
type SetCanaryScale struct {
	// Weight sizes the canary as a percentage of spec.replicas.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight *int32 `json:"weight,omitempty"`
	// Replicas sizes the canary as a pod count.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`
	// MatchTrafficWeight sizes the canary by its traffic weight again.
	// +optional
	MatchTrafficWeight bool `json:"matchTrafficWeight,omitempty"`
}

// SetHeaderRoute routes requests that match all of the header matches to the
// canary, through the managed route Name. An empty match removes the route.
type SetHeaderRoute struct {
	// Name of the route; it must be listed in trafficRouting.managedRoutes.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Match lists header conditions; a request must meet all of them. Empty removes the route.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Match []HeaderRoutingMatch `json:"match,omitempty"`
}

// HeaderRoutingMatch matches one request header.
type HeaderRoutingMatch struct {
	// HeaderName is the request header to match.
	// +kubebuilder:validation:MinLength=1
	HeaderName string `json:"headerName"`
	// HeaderValue is how its value must match.
	// +optional
	HeaderValue *StringMatch `json:"headerValue,omitempty"`
}

// StringMatch matches a string exactly, by prefix or by regular expression.
//
// +kubebuilder:validation:XValidation:rule="[has(self.exact), has(self.prefix), has(self.regex)].filter(x, x).size() == 1",message="a string match needs exactly one of exact, prefix or regex"
type StringMatch struct {
	// Exact matches the whole value.
	// +optional
	Exact string `json:"exact,omitempty"`
	// Prefix matches the start of the value.
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// Regex matches a regular expression (RE2).
	// +optional
	Regex string `json:"regex,omitempty"`
}

// SetMirrorRoute mirrors a percentage of the matching requests to the canary
// through the managed route Name. An empty match removes the route.
type SetMirrorRoute struct {
	// Name of the route; it must be listed in trafficRouting.managedRoutes.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Match blocks are ORed; the conditions within one block are ANDed.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Match []RouteMatch `json:"match,omitempty"`
	// Percentage of the matching requests to mirror. Defaults to 100.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Percentage *int32 `json:"percentage,omitempty"`
}

// RouteMatch matches a request by method, path and headers.
type RouteMatch struct {
	// Method matches the HTTP method.
	// +optional
	Method *StringMatch `json:"method,omitempty"`
	// Path matches the request path.
	// +optional
	Path *StringMatch `json:"path,omitempty"`
	// Headers match request headers by name.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Headers map[string]StringMatch `json:"headers,omitempty"`
}

// PluginStep runs a step plugin with a configuration.
type PluginStep struct {
	// Name of the step plugin, "<org>/<name>".
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Config is passed to the plugin as JSON.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Config json.RawMessage `json:"config,omitempty"`
}

// RolloutExperimentStep runs an Experiment as a canary step.
type RolloutExperimentStep struct {
	// Templates are the ReplicaSets the experiment runs.
	// +kubebuilder:validation:MinItems=1
	Templates []RolloutExperimentTemplate `json:"templates"`
	// Duration of the experiment; empty means until its analyses complete.
	// +optional
	Duration DurationString `json:"duration,omitempty"`
	// Analyses run during the experiment.
	// +optional
	Analyses []RolloutExperimentStepAnalysisTemplateRef `json:"analyses,omitempty"`
	// DryRun lists metrics whose result does not decide the outcome.
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// AnalysisRunMetadata is added to the runs the experiment creates.
	// +optional
	AnalysisRunMetadata AnalysisRunMetadata `json:"analysisRunMetadata,omitzero"`
	// ScaleDownDelaySeconds is how long the experiment's ReplicaSets stay up
	// after it ends.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
}

// ReplicaSetSpecRef says which of the rollout's pod templates an experiment
// template copies.
// +kubebuilder:validation:Enum=canary;stable
type ReplicaSetSpecRef string

// Values of ReplicaSetSpecRef.
const (
	CanarySpecRef ReplicaSetSpecRef = "canary"
	StableSpecRef ReplicaSetSpecRef = "stable"
)

// RolloutExperimentTemplate is one ReplicaSet of an experiment step.
type RolloutExperimentTemplate struct {
	// Name of the template within the experiment.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// SpecRef is canary or stable.
	SpecRef ReplicaSetSpecRef `json:"specRef"`
	// Replicas of the template. Defaults to 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`
	// Metadata is added to the template's pods.
	// +optional
	Metadata PodTemplateMetadata `json:"metadata,omitzero"`
	// Selector overrides the rollout's selector for the template's pods.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Weight of traffic sent to this template (SMI, ALB and Istio).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight *int32 `json:"weight,omitempty"`
	// Service asks for a Service in front of the template's pods.
	// +optional
	Service *TemplateService `json:"service,omitempty"`
}

// TemplateService asks for a Service in front of an experiment template.
type TemplateService struct {
	// Name of the Service; defaults to the ReplicaSet's name.
	// +optional
	Name string `json:"name,omitempty"`
}

// RolloutExperimentStepAnalysisTemplateRef is an analysis of an experiment
// step.
type RolloutExperimentStepAnalysisTemplateRef struct {
	// Name of the analysis within the experiment.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// TemplateName is the AnalysisTemplate (or, with clusterScope, ClusterAnalysisTemplate) to run.
	// +kubebuilder:validation:MinLength=1
	TemplateName string `json:"templateName"`
	// ClusterScope takes templateName from ClusterAnalysisTemplates.
	// +optional
	ClusterScope bool `json:"clusterScope,omitempty"`
	// Args are passed to the template.
	// +optional
	Args []AnalysisRunArgument `json:"args,omitempty"`
	// RequiredForCompletion: the experiment ends once every such analysis has completed.
	// +optional
	RequiredForCompletion bool `json:"requiredForCompletion,omitempty"`
}

// RolloutAnalysis runs one AnalysisRun made of one or more templates.
type RolloutAnalysis struct {
	// Templates are merged into one run.
	// +optional
	Templates []AnalysisTemplateRef `json:"templates,omitempty"`
	// Args are passed to the templates.
	// +optional
	Args []AnalysisRunArgument `json:"args,omitempty"`
	// DryRun lists metrics whose result does not decide the outcome.
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// MeasurementRetention sets how many measurements a metric keeps.
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// AnalysisRunMetadata is added to the run.
	// +optional
	AnalysisRunMetadata AnalysisRunMetadata `json:"analysisRunMetadata,omitzero"`
}

// RolloutAnalysisBackground is a background analysis of a canary.
type RolloutAnalysisBackground struct {
	RolloutAnalysis `json:",inline"`
	// StartingStep is the step index at which the analysis starts.
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingStep *int32 `json:"startingStep,omitempty"`
}

// AnalysisTemplateRef names an AnalysisTemplate or, with clusterScope, a
// ClusterAnalysisTemplate.
type AnalysisTemplateRef struct {
	// TemplateName is the template's name.
	// +kubebuilder:validation:MinLength=1
	TemplateName string `json:"templateName"`
	// ClusterScope takes templateName from ClusterAnalysisTemplates.
	// +optional
	ClusterScope bool `json:"clusterScope,omitempty"`
}

// AnalysisRunMetadata is metadata added to AnalysisRuns.
type AnalysisRunMetadata struct {
	// Labels added to the run.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations added to the run.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AnalysisRunArgument is an argument a rollout passes to its analysis.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.value) && has(self.valueFrom))",message="an argument sets value or valueFrom, not both"
type AnalysisRunArgument struct {
	// Name of the argument, as the template declares it.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Value of the argument.
	// +optional
	Value string `json:"value,omitempty"`
	// ValueFrom takes the value from the rollout.
	// +optional
	ValueFrom *ArgumentValueFrom `json:"valueFrom,omitempty"`
}

// ArgumentValueFrom takes an argument's value from the rollout.
//
// +kubebuilder:validation:XValidation:rule="has(self.podTemplateHashValue) != has(self.fieldRef)",message="valueFrom needs exactly one of podTemplateHashValue or fieldRef"
type ArgumentValueFrom struct {
	// PodTemplateHashValue is Stable or Latest: the pod-template hash of that
	// ReplicaSet.
	// +optional
	PodTemplateHashValue *ValueFromPodTemplateHash `json:"podTemplateHashValue,omitempty"`
	// FieldRef is a path in the rollout (metadata, spec or status).
	// +optional
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// ValueFromPodTemplateHash names a ReplicaSet of the rollout.
// +kubebuilder:validation:Enum=Stable;Latest
type ValueFromPodTemplateHash string

// Values of ValueFromPodTemplateHash.
const (
	Stable ValueFromPodTemplateHash = "Stable"
	Latest ValueFromPodTemplateHash = "Latest"
)

// FieldRef is a downward-API style path.
type FieldRef struct {
	// FieldPath such as metadata.labels['app'] or status.alb.canaryTargetGroup.name.
	// +kubebuilder:validation:MinLength=1
	FieldPath string `json:"fieldPath"`
}
