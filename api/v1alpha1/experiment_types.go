package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Experiment runs one or more ReplicaSets side by side for a while, with
// analyses, to compare versions.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=exp,categories=all;ramp
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`,description="Pending, Running, Successful, Failed, Error or Inconclusive"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Experiment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ExperimentSpec `json:"spec"`
	// +optional
	Status ExperimentStatus `json:"status,omitzero"`
}

// ExperimentList is a list of Experiments.
//
// +kubebuilder:object:root=true
type ExperimentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Experiment `json:"items"`
}

// ExperimentSpec is the desired state of an Experiment.
type ExperimentSpec struct {
	// Templates are the ReplicaSets to run.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	Templates []TemplateSpec `json:"templates"`
	// Duration of the experiment; empty means until its required analyses
	// complete.
	// +optional
	Duration DurationString `json:"duration,omitempty"`
	// ProgressDeadlineSeconds is how long the ReplicaSets may take to become
	// available. Defaults to 600.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	// Terminate ends the experiment early.
	// +optional
	Terminate bool `json:"terminate,omitempty"`
	// Analyses run once the ReplicaSets are available.
	// +optional
	// +listType=map
	// +listMapKey=name
	Analyses []ExperimentAnalysisTemplateRef `json:"analyses,omitempty"`
	// ScaleDownDelaySeconds is how long the ReplicaSets stay up after the
	// experiment ends. Defaults to 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// DryRun lists metrics whose result does not decide the analyses.
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// MeasurementRetention sets how many measurements the analyses' metrics keep.
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// AnalysisRunMetadata is added to the analyses' runs.
	// +optional
	AnalysisRunMetadata AnalysisRunMetadata `json:"analysisRunMetadata,omitzero"`
}

// TemplateSpec is one ReplicaSet of an experiment.
type TemplateSpec struct {
	// Name of the template; the ReplicaSet is named <experiment>-<name>.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Replicas defaults to 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`
	// MinReadySeconds before a pod counts as available.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// Selector of the template's pods; it must match the template's labels.
	Selector *metav1.LabelSelector `json:"selector"`
	// Template of the pods.
	Template corev1.PodTemplateSpec `json:"template"`
	// Service asks for a Service in front of the template's pods.
	// +optional
	Service *TemplateService `json:"service,omitempty"`
}

// ExperimentAnalysisTemplateRef is an analysis of an experiment.
type ExperimentAnalysisTemplateRef struct {
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
	Args []Argument `json:"args,omitempty"`
	// RequiredForCompletion: the experiment ends when every such analysis
	// has completed.
	// +optional
	RequiredForCompletion bool `json:"requiredForCompletion,omitempty"`
}

// TemplateStatusCode is the state of one experiment template.
type TemplateStatusCode string

// Values of TemplateStatusCode.
const (
	TemplateStatusProgressing TemplateStatusCode = "Progressing"
	TemplateStatusRunning     TemplateStatusCode = "Running"
	TemplateStatusSuccessful  TemplateStatusCode = "Successful"
	TemplateStatusFailed      TemplateStatusCode = "Failed"
	TemplateStatusError       TemplateStatusCode = "Error"
)

// ExperimentStatus is the observed state of an Experiment.
type ExperimentStatus struct {
	// Phase of the experiment: Pending, Running, Successful, Failed, Error or Inconclusive.
	// +optional
	Phase AnalysisPhase `json:"phase,omitempty"`
	// Message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// TemplateStatuses report each template's ReplicaSet.
	// +optional
	TemplateStatuses []TemplateStatus `json:"templateStatuses,omitempty"`
	// AvailableAt is when every template became available.
	// +optional
	AvailableAt *metav1.Time `json:"availableAt,omitempty"`
	// Conditions of the experiment.
	// +optional
	Conditions []ExperimentCondition `json:"conditions,omitempty"`
	// AnalysisRuns report each analysis's run.
	// +optional
	AnalysisRuns []ExperimentAnalysisRunStatus `json:"analysisRuns,omitempty"`
}

// TemplateStatus is the state of one experiment template.
type TemplateStatus struct {
	// Name of the template.
	Name string `json:"name"`
	// Replicas is the number of pods.
	// +optional
	Replicas int32 `json:"replicas"`
	// UpdatedReplicas is the number of pods with the template's spec.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas"`
	// ReadyReplicas is the number of ready pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`
	// AvailableReplicas is the number of available pods.
	// +optional
	AvailableReplicas int32 `json:"availableReplicas"`
	// CollisionCount counts pod-template hash collisions.
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// +optional
	Status TemplateStatusCode `json:"status,omitempty"`
	// Message explains the status.
	// +optional
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when the status last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// ServiceName is the Service created for the template.
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// PodTemplateHash of the template's ReplicaSet.
	// +optional
	PodTemplateHash string `json:"podTemplateHash,omitempty"`
}

// ExperimentConditionType is the type of an experiment condition.
type ExperimentConditionType string

// ExperimentCondition is one condition of an experiment.
type ExperimentCondition struct {
	// Type of the condition.
	Type   ExperimentConditionType `json:"type"`
	Status corev1.ConditionStatus  `json:"status"`
	// LastUpdateTime is when the condition was last written.
	// +optional
	LastUpdateTime metav1.Time `json:"lastUpdateTime,omitzero"`
	// LastTransitionTime is when the status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitzero"`
	// Reason is a CamelCase word for the status.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message explains the status.
	// +optional
	Message string `json:"message,omitempty"`
}

// ExperimentAnalysisRunStatus is the state of one analysis of an experiment.
type ExperimentAnalysisRunStatus struct {
	// Name of the analysis.
	Name string `json:"name"`
	// AnalysisRun is the run's name.
	AnalysisRun string `json:"analysisRun"`
	// Phase of the run.
	Phase AnalysisPhase `json:"phase"`
	// Message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
}
