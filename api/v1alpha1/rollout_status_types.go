package v1alpha1

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RolloutStatus is the observed state of a Rollout.
type RolloutStatus struct {
	// Abort aborts the update: traffic returns to the stable version.
	// +optional
	Abort bool `json:"abort,omitempty"`
	// PauseConditions are the reasons the rollout is paused.
	// +optional
	PauseConditions []PauseCondition `json:"pauseConditions,omitempty"`
	// ControllerPause is true when the controller paused the rollout.
	// +optional
	ControllerPause bool `json:"controllerPause,omitempty"`
	// PausedOnRuns names the Inconclusive AnalysisRuns (and Experiments) of
	// this update the rollout has paused on. It is written in the same
	// status write as the InconclusiveAnalysisRun (InconclusiveExperiment)
	// pause condition and kept when a person
	// promotes (clears pauseConditions), so a run named here without that
	// condition was promoted past, and a promotion can never race the
	// record of the pause. Cleared when the update ends or is retried.
	// Ramp's own: Argo Rollouts keeps no such record.
	// +optional
	// +listType=set
	PausedOnRuns []string `json:"pausedOnRuns,omitempty"`
	// AbortedAt is when the update was aborted.
	// +optional
	AbortedAt *metav1.Time `json:"abortedAt,omitempty"`
	// CurrentPodHash is the pod-template hash of the desired template.
	// +optional
	CurrentPodHash string `json:"currentPodHash,omitempty"`
	// CurrentStepHash is the hash of the canary steps being run.
	// +optional
	CurrentStepHash string `json:"currentStepHash,omitempty"`
	// Replicas is the number of non-terminated pods.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// UpdatedReplicas is the number of pods with the desired template.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`
	// ReadyReplicas is the number of ready pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// AvailableReplicas is the number of pods ready for minReadySeconds.
	// +optional
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	// CurrentStepIndex is the index of the canary step being run.
	// +optional
	CurrentStepIndex *int32 `json:"currentStepIndex,omitempty"`
	// CollisionCount counts pod-template hash collisions.
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// ObservedGeneration is the generation the controller last acted on. A
	// string, as in Argo Rollouts.
	// +optional
	ObservedGeneration string `json:"observedGeneration,omitempty"`
	// Conditions are the rollout's conditions.
	// +optional
	Conditions []RolloutCondition `json:"conditions,omitempty"`
	// Canary is the canary strategy's status.
	// +optional
	Canary CanaryStatus `json:"canary,omitzero"`
	// BlueGreen is the blue/green strategy's status.
	// +optional
	BlueGreen BlueGreenStatus `json:"blueGreen,omitzero"`
	// HPAReplicas is the number of pods receiving active traffic, read by an
	// HorizontalPodAutoscaler through the scale subresource.
	// +optional
	HPAReplicas int32 `json:"HPAReplicas,omitempty"`
	// Selector is the label selector of the pods, in string form, for the
	// scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`
	// StableRS is the pod-template hash of the stable ReplicaSet.
	// +optional
	StableRS string `json:"stableRS,omitempty"`
	// RestartedAt is when the last restart finished.
	// +optional
	RestartedAt *metav1.Time `json:"restartedAt,omitempty"`
	// PromoteFull skips the remaining steps, analysis and pauses.
	// +optional
	PromoteFull bool `json:"promoteFull,omitempty"`
	// Phase is Healthy, Progressing, Paused or Degraded.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`
	// Message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// WorkloadObservedGeneration is the generation of the workloadRef
	// Deployment last acted on.
	// +optional
	WorkloadObservedGeneration string `json:"workloadObservedGeneration,omitempty"`
	// ALB is the load balancer and target groups of a single ALB Ingress.
	// +optional
	ALB *ALBStatus `json:"alb,omitempty"`
	// ALBs are the load balancers and target groups of every ALB Ingress.
	// +optional
	ALBs []ALBStatus `json:"albs,omitempty"`
	// Duration records how long the last update took.
	// +optional
	Duration *RolloutDuration `json:"duration,omitempty"`
}

// RolloutPhase is the summary state of a rollout.
// +kubebuilder:validation:Enum=Healthy;Progressing;Paused;Degraded
type RolloutPhase string

// Values of RolloutPhase.
const (
	RolloutPhaseHealthy     RolloutPhase = "Healthy"
	RolloutPhaseProgressing RolloutPhase = "Progressing"
	RolloutPhasePaused      RolloutPhase = "Paused"
	RolloutPhaseDegraded    RolloutPhase = "Degraded"
)

// PauseReason says why a rollout paused.
type PauseReason string

// Values of PauseReason.
const (
	PauseReasonInconclusiveAnalysis   PauseReason = "InconclusiveAnalysisRun"
	PauseReasonInconclusiveExperiment PauseReason = "InconclusiveExperiment"
	PauseReasonCanaryPauseStep        PauseReason = "CanaryPauseStep"
	PauseReasonBlueGreenPause         PauseReason = "BlueGreenPause"
)

// PauseCondition is one reason for a pause and when it began.
type PauseCondition struct {
	// Reason for the pause: CanaryPauseStep, BlueGreenPause, InconclusiveAnalysisRun or InconclusiveExperiment.
	Reason PauseReason `json:"reason"`
	// StartTime is when the pause began.
	StartTime metav1.Time `json:"startTime"`
}

// RolloutConditionType is the type of a rollout condition.
type RolloutConditionType string

// RolloutCondition is one condition of a rollout.
type RolloutCondition struct {
	// Type of the condition: InvalidSpec, Available, Progressing, ReplicaFailure, Paused, Completed or Healthy.
	Type   RolloutConditionType   `json:"type"`
	Status corev1.ConditionStatus `json:"status"`
	// LastUpdateTime is when the condition was last written.
	// +optional
	LastUpdateTime metav1.Time `json:"lastUpdateTime,omitzero"`
	// LastTransitionTime is when the status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitzero"`
	// Reason is a CamelCase word for the status, such as RolloutAborted.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message explains the status.
	// +optional
	Message string `json:"message,omitempty"`
}

// CanaryStatus is the status of a canary release.
type CanaryStatus struct {
	// CurrentStepAnalysisRunStatus is the run of the current analysis step.
	// +optional
	CurrentStepAnalysisRunStatus *RolloutAnalysisRunStatus `json:"currentStepAnalysisRunStatus,omitempty"`
	// CurrentBackgroundAnalysisRunStatus is the background analysis run.
	// +optional
	CurrentBackgroundAnalysisRunStatus *RolloutAnalysisRunStatus `json:"currentBackgroundAnalysisRunStatus,omitempty"`
	// CurrentExperiment is the experiment of the current step.
	// +optional
	CurrentExperiment string `json:"currentExperiment,omitempty"`
	// Weights are the traffic weights the routers were last given.
	// +optional
	Weights *TrafficWeights `json:"weights,omitempty"`
	// StablePingPong says which ping-pong Service is stable: ping or pong.
	// +optional
	StablePingPong PingPongType `json:"stablePingPong,omitempty"`
	// StepPluginStatuses report the plugin steps.
	// +optional
	StepPluginStatuses []StepPluginStatus `json:"stepPluginStatuses,omitempty"`
}

// RolloutAnalysisRunStatus is the state of an AnalysisRun a rollout waits on.
type RolloutAnalysisRunStatus struct {
	// Name of the AnalysisRun.
	Name   string        `json:"name"`
	Status AnalysisPhase `json:"status"`
	// Message explains the run's phase.
	// +optional
	Message string `json:"message,omitempty"`
}

// TrafficWeights are the weights of each destination.
type TrafficWeights struct {
	// Canary is the canary's destination and weight.
	Canary WeightDestination `json:"canary"`
	// Stable is the stable version's destination and weight.
	Stable WeightDestination `json:"stable"`
	// Additional destinations, such as weighted experiment templates.
	// +optional
	Additional []WeightDestination `json:"additional,omitempty"`
	// Verified is whether the load balancer was seen to apply the weights.
	// +optional
	Verified *bool `json:"verified,omitempty"`
}

// WeightDestination is one destination and its weight.
type WeightDestination struct {
	// Weight of the destination.
	Weight int32 `json:"weight"`
	// ServiceName of the destination.
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// PodTemplateHash of the destination's ReplicaSet.
	// +optional
	PodTemplateHash string `json:"podTemplateHash,omitempty"`
}

// StepPluginStatus is the state of a plugin step.
type StepPluginStatus struct {
	// Index of the step.
	Index int32 `json:"index"`
	// Name of the plugin.
	Name string `json:"name"`
	// Operation last run: Run, Terminate or Abort.
	// +optional
	Operation string `json:"operation,omitempty"`
	// Phase of the step: Running, Successful, Failed or Error.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Message from the plugin.
	// +optional
	Message string `json:"message,omitempty"`
	// StartedAt is when the step started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// UpdatedAt is when the status last changed.
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
	// Backoff is how long until the plugin is asked again.
	// +optional
	Backoff DurationString `json:"backoff,omitempty"`
	// Executions counts the calls to the plugin.
	// +optional
	Executions int32 `json:"executions,omitempty"`
	// Disabled is true when the plugin is switched off globally.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Status json.RawMessage `json:"status,omitempty"`
}

// BlueGreenStatus is the status of a blue/green release.
type BlueGreenStatus struct {
	// PreviewSelector is the pod-template hash the preview Service selects.
	// +optional
	PreviewSelector string `json:"previewSelector,omitempty"`
	// ActiveSelector is the pod-template hash the active Service selects.
	// +optional
	ActiveSelector string `json:"activeSelector,omitempty"`
	// ScaleUpPreviewCheckPoint records that the preview was scaled to full size before promotion.
	// +optional
	ScaleUpPreviewCheckPoint bool `json:"scaleUpPreviewCheckPoint,omitempty"`
	// PrePromotionAnalysisRunStatus is the pre-promotion run.
	// +optional
	PrePromotionAnalysisRunStatus *RolloutAnalysisRunStatus `json:"prePromotionAnalysisRunStatus,omitempty"`
	// PostPromotionAnalysisRunStatus is the post-promotion run.
	// +optional
	PostPromotionAnalysisRunStatus *RolloutAnalysisRunStatus `json:"postPromotionAnalysisRunStatus,omitempty"`
}

// ALBStatus is the AWS resources behind one ALB Ingress.
type ALBStatus struct {
	// LoadBalancer serving the Ingress.
	// +optional
	LoadBalancer AwsResourceRef `json:"loadBalancer,omitzero"`
	// CanaryTargetGroup of the canary Service.
	// +optional
	CanaryTargetGroup AwsResourceRef `json:"canaryTargetGroup,omitzero"`
	// StableTargetGroup of the stable Service.
	// +optional
	StableTargetGroup AwsResourceRef `json:"stableTargetGroup,omitzero"`
	// Ingress these resources belong to.
	// +optional
	Ingress string `json:"ingress,omitempty"`
}

// AwsResourceRef identifies an AWS resource.
type AwsResourceRef struct {
	// Name of the resource.
	// +optional
	Name string `json:"name,omitempty"`
	// ARN of the resource.
	// +optional
	ARN string `json:"arn,omitempty"`
	// FullName is the name CloudWatch dimensions use, such as app/name/id.
	// +optional
	FullName string `json:"fullName,omitempty"`
}

// RolloutDuration records the timing of the last update.
type RolloutDuration struct {
	// RolloutStartedAt is when the update began.
	// +optional
	RolloutStartedAt *metav1.Time `json:"rolloutStartedAt,omitempty"`
	// ManualPauseStartedAt is when the current manual pause began.
	// +optional
	ManualPauseStartedAt *metav1.Time `json:"manualPauseStartedAt,omitempty"`
	// TotalManualPauseDurationSeconds adds up the manual pauses.
	// +optional
	TotalManualPauseDurationSeconds int64 `json:"totalManualPauseDurationSeconds,omitempty"`
	// FinishedAt is when the update ended.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// CompletionStatus is Promoted, FastPromoted, Aborted, Superseded,
	// RolledBack or FastRolledBack.
	// +optional
	CompletionStatus string `json:"completionStatus,omitempty"`
}
