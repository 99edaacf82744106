package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Rollout replaces a Deployment with a controlled release: blue/green or
// canary, gated by analysis, with automatic rollback.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=ro;rollouts,categories=all;ramp
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.HPAReplicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.replicas`,description="Number of desired pods"
// +kubebuilder:printcolumn:name="Current",type=integer,JSONPath=`.status.replicas`,description="Total number of non-terminated pods targeted by this rollout"
// +kubebuilder:printcolumn:name="Up-to-date",type=integer,JSONPath=`.status.updatedReplicas`,description="Total number of non-terminated pods that have the desired template spec"
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.availableReplicas`,description="Total number of available pods (ready for at least minReadySeconds)"
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`,description="Healthy, Progressing, Paused or Degraded"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec RolloutSpec `json:"spec"`
	// +optional
	Status RolloutStatus `json:"status,omitzero"`
}

// RolloutList is a list of Rollouts.
//
// +kubebuilder:object:root=true
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Rollout `json:"items"`
}

// RolloutSpec is the desired state of a Rollout.
//
// +kubebuilder:validation:XValidation:rule="has(self.selector) || has(self.workloadRef)",message="spec.selector is required unless spec.workloadRef is set"
// +kubebuilder:validation:XValidation:rule="!(has(self.workloadRef) && has(self.template) && has(self.template.spec) && has(self.template.spec.containers) && size(self.template.spec.containers) > 0)",message="spec.template and spec.workloadRef are mutually exclusive"
// +kubebuilder:validation:XValidation:rule="has(self.workloadRef) || (has(self.template) && has(self.template.spec) && has(self.template.spec.containers))",message="spec.template.spec.containers is required unless spec.workloadRef is set"
type RolloutSpec struct {
	// Replicas is the number of desired pods. Defaults to 1. An
	// HorizontalPodAutoscaler writes it through the scale subresource.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`

	// Selector selects the pods this rollout owns. It must match the
	// template's labels and cannot change after creation. Required unless
	// workloadRef is set.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.selector is immutable"
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Template describes the pods that will be created. Mutually exclusive
	// with workloadRef.
	// +optional
	Template corev1.PodTemplateSpec `json:"template,omitzero"`

	// WorkloadRef takes the pod template (and selector) from an existing
	// Deployment instead of Template.
	// +optional
	WorkloadRef *ObjectRef `json:"workloadRef,omitempty"`

	// MinReadySeconds is the minimum number of seconds a new pod must be
	// ready, without any of its containers crashing, to count as available.
	// Defaults to 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`

	// Strategy is the release strategy: exactly one of blueGreen or canary.
	Strategy RolloutStrategy `json:"strategy"`

	// RevisionHistoryLimit is the number of old ReplicaSets kept for undo.
	// Defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// Paused pauses the rollout manually. HPA scaling still happens while
	// paused. A rollout created paused is not scaled up from zero.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// ProgressDeadlineSeconds is the longest an update may make no progress
	// before the ProgressDeadlineExceeded reason is raised. Time spent
	// paused is not counted. Defaults to 600.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`

	// ProgressDeadlineAbort aborts the update when the progress deadline is
	// exceeded. Defaults to false.
	// +optional
	ProgressDeadlineAbort bool `json:"progressDeadlineAbort,omitempty"`

	// RestartAt asks for every pod to be restarted (evicted, honouring
	// PodDisruptionBudgets) once this time has passed.
	// +optional
	RestartAt *metav1.Time `json:"restartAt,omitempty"`

	// Analysis configures garbage collection of this rollout's AnalysisRuns
	// and Experiments.
	// +optional
	Analysis *AnalysisRunStrategy `json:"analysis,omitempty"`

	// RollbackWindow fast-tracks a rollback to one of the last N revisions:
	// steps and analysis are skipped.
	// +optional
	RollbackWindow *RollbackWindowSpec `json:"rollbackWindow,omitempty"`
}

// ObjectRef names a workload whose pod template a Rollout uses.
// +kubebuilder:validation:XValidation:rule="!has(self.apiVersion) || !has(self.kind) || (self.kind == 'PodTemplate') == (self.apiVersion == 'v1')",message="spec.workloadRef.apiVersion must be apps/v1 for a Deployment or a ReplicaSet and v1 for a PodTemplate"
// +kubebuilder:validation:XValidation:rule="!has(self.kind) || self.kind != 'PodTemplate' || !has(self.scaleDown) || self.scaleDown == 'never'",message="spec.workloadRef.scaleDown: a PodTemplate runs no pods to scale down; only never"
type ObjectRef struct {
	// APIVersion of the referenced workload: apps/v1 for a Deployment or
	// a ReplicaSet, v1 for a PodTemplate.
	// +optional
	// +kubebuilder:validation:Enum=apps/v1;v1
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the referenced workload: Deployment (the default), ReplicaSet
	// or PodTemplate.
	// +optional
	// +kubebuilder:validation:Enum=Deployment;ReplicaSet;PodTemplate
	Kind string `json:"kind,omitempty"`
	// Name of the referenced workload, in the rollout's namespace.
	// +optional
	Name string `json:"name,omitempty"`
	// ScaleDown says how the referenced Deployment or ReplicaSet is scaled
	// down once the Rollout runs its pods: never (the default), onsuccess
	// (once the Rollout is healthy) or progressively (as the Rollout's pods
	// become available). A PodTemplate runs no pods: only never.
	// +optional
	// +kubebuilder:validation:Enum=never;onsuccess;progressively
	ScaleDown string `json:"scaleDown,omitempty"`
}

// Values of ObjectRef.Kind.
const (
	WorkloadKindDeployment  = "Deployment"
	WorkloadKindReplicaSet  = "ReplicaSet"
	WorkloadKindPodTemplate = "PodTemplate"
)

// Values of ObjectRef.ScaleDown.
const (
	ScaleDownNever         = "never"
	ScaleDownOnSuccess     = "onsuccess"
	ScaleDownProgressively = "progressively"
)

// AnalysisRunStrategy configures how many finished AnalysisRuns and
// Experiments a rollout keeps.
type AnalysisRunStrategy struct {
	// SuccessfulRunHistoryLimit is the number of successful runs kept.
	// Defaults to 5.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SuccessfulRunHistoryLimit *int32 `json:"successfulRunHistoryLimit,omitempty"`
	// UnsuccessfulRunHistoryLimit is the number of Failed, Error or
	// Inconclusive runs kept. Defaults to 5.
	// +optional
	// +kubebuilder:validation:Minimum=0
	UnsuccessfulRunHistoryLimit *int32 `json:"unsuccessfulRunHistoryLimit,omitempty"`
}

// RollbackWindowSpec sets how far back a rollback is fast-tracked.
type RollbackWindowSpec struct {
	// Revisions is the number of recent revisions a rollback to which skips
	// steps and analysis.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Revisions int32 `json:"revisions,omitempty"`
}

// RolloutStrategy holds exactly one release strategy.
//
// +kubebuilder:validation:XValidation:rule="has(self.blueGreen) != has(self.canary)",message="exactly one of spec.strategy.blueGreen or spec.strategy.canary must be set"
type RolloutStrategy struct {
	// BlueGreen runs the new version beside the live one behind a preview
	// Service and switches the active Service at promotion.
	// +optional
	BlueGreen *BlueGreenStrategy `json:"blueGreen,omitempty"`
	// Canary moves traffic to the new version in steps.
	// +optional
	Canary *CanaryStrategy `json:"canary,omitempty"`
}

// BlueGreenStrategy configures a blue/green release.
//
// +kubebuilder:validation:XValidation:rule="!has(self.previewService) || size(self.previewService) == 0 || self.previewService != self.activeService",message="spec.strategy.blueGreen.previewService must differ from activeService"
type BlueGreenStrategy struct {
	// ActiveService is the Service that receives production traffic. Its
	// selector gets the rollouts-pod-template-hash of the active ReplicaSet.
	// +kubebuilder:validation:MinLength=1
	ActiveService string `json:"activeService"`
	// PreviewService, when set, always selects the newest ReplicaSet so that
	// it can be tested before promotion.
	// +optional
	PreviewService string `json:"previewService,omitempty"`
	// PreviewReplicaCount is the size of the new ReplicaSet before
	// promotion. Defaults to spec.replicas.
	// +optional
	// +kubebuilder:validation:Minimum=0
	PreviewReplicaCount *int32 `json:"previewReplicaCount,omitempty"`
	// AutoPromotionEnabled promotes the new version as soon as it is ready.
	// When false, the rollout pauses (reason BlueGreenPause) until promoted.
	// Defaults to true.
	// +optional
	AutoPromotionEnabled *bool `json:"autoPromotionEnabled,omitempty"`
	// AutoPromotionSeconds promotes automatically this many seconds after the
	// pause starts.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AutoPromotionSeconds int32 `json:"autoPromotionSeconds,omitempty"`
	// MaxUnavailable is the most pods that may be unavailable during a
	// restart. Defaults to 25%.
	// +optional
	// +kubebuilder:validation:XIntOrString
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// ScaleDownDelaySeconds is how long the old ReplicaSet stays up after
	// the switch, so load balancers can catch up. Defaults to 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// ScaleDownDelayRevisionLimit is the most old ReplicaSets kept up while
	// they wait for their scale-down delay.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	// PrePromotionAnalysis runs before the active Service switches; failure
	// aborts.
	// +optional
	PrePromotionAnalysis *RolloutAnalysis `json:"prePromotionAnalysis,omitempty"`
	// AntiAffinity keeps new pods off the nodes of the previous version.
	// +optional
	AntiAffinity *AntiAffinity `json:"antiAffinity,omitempty"`
	// PostPromotionAnalysis runs after the switch; failure switches traffic
	// back and aborts.
	// +optional
	PostPromotionAnalysis *RolloutAnalysis `json:"postPromotionAnalysis,omitempty"`
	// PreviewMetadata is added to pods while they are the preview version.
	// +optional
	PreviewMetadata *PodTemplateMetadata `json:"previewMetadata,omitempty"`
	// ActiveMetadata is added to pods while they are the active version.
	// +optional
	ActiveMetadata *PodTemplateMetadata `json:"activeMetadata,omitempty"`
	// AbortScaleDownDelaySeconds is how long the preview ReplicaSet stays up
	// after an abort. 0 means it is never scaled down. Defaults to 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
}

// AntiAffinity injects pod anti-affinity against the previous version.
//
// +kubebuilder:validation:XValidation:rule="has(self.preferredDuringSchedulingIgnoredDuringExecution) != has(self.requiredDuringSchedulingIgnoredDuringExecution)",message="antiAffinity needs exactly one of preferredDuringSchedulingIgnoredDuringExecution or requiredDuringSchedulingIgnoredDuringExecution"
type AntiAffinity struct {
	// PreferredDuringSchedulingIgnoredDuringExecution prefers nodes without the previous version's pods.
	// +optional
	PreferredDuringSchedulingIgnoredDuringExecution *PreferredDuringSchedulingIgnoredDuringExecution `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
	// RequiredDuringSchedulingIgnoredDuringExecution requires nodes without the previous version's pods.
	// +optional
	RequiredDuringSchedulingIgnoredDuringExecution *RequiredDuringSchedulingIgnoredDuringExecution `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PreferredDuringSchedulingIgnoredDuringExecution makes the anti-affinity a
// preference with a weight.
type PreferredDuringSchedulingIgnoredDuringExecution struct {
	// Weight of the preference, 1 to 100.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Weight int32 `json:"weight"`
}

// RequiredDuringSchedulingIgnoredDuringExecution makes the anti-affinity a
// requirement.
type RequiredDuringSchedulingIgnoredDuringExecution struct{}

// PodTemplateMetadata is ephemeral metadata applied to pods while they hold a
// role (canary, stable, active, preview).
type PodTemplateMetadata struct {
	// Labels added to the pods.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations added to the pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}
