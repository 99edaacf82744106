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
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// +optional
	AnalysisRunMetadata AnalysisRunMetadata `json:"analysisRunMetadata,omitzero"`
}

// TemplateSpec is one ReplicaSet of an experiment.
type TemplateSpec struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Replicas defaults to 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinReadySeconds int32                  `json:"minReadySeconds,omitempty"`
	Selector        *metav1.LabelSelector  `json:"selector"`
	Template        corev1.PodTemplateSpec `json:"template"`
	// +optional
	Service *TemplateService `json:"service,omitempty"`
}

// ExperimentAnalysisTemplateRef is an analysis of an experiment.
type ExperimentAnalysisTemplateRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	TemplateName string `json:"templateName"`
	// +optional
	ClusterScope bool `json:"clusterScope,omitempty"`
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
	// +optional
	Phase AnalysisPhase `json:"phase,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	TemplateStatuses []TemplateStatus `json:"templateStatuses,omitempty"`
	// +optional
	AvailableAt *metav1.Time `json:"availableAt,omitempty"`
	// +optional
	Conditions []ExperimentCondition `json:"conditions,omitempty"`
	// +optional
	AnalysisRuns []ExperimentAnalysisRunStatus `json:"analysisRuns,omitempty"`
}

// TemplateStatus is the state of one experiment template.
type TemplateStatus struct {
	Name string `json:"name"`
	// +optional
	Replicas int32 `json:"replicas"`
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas"`
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`
	// +optional
	AvailableReplicas int32 `json:"availableReplicas"`
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// +optional
	Status TemplateStatusCode `json:"status,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// +optional
	PodTemplateHash string `json:"podTemplateHash,omitempty"`
}

// ExperimentConditionType is the type of an experiment condition.
type ExperimentConditionType string

// ExperimentCondition is one condition of an experiment.
type ExperimentCondition struct {
	Type   ExperimentConditionType `json:"type"`
	Status corev1.ConditionStatus  `json:"status"`
	// +optional
	LastUpdateTime metav1.Time `json:"lastUpdateTime,omitzero"`
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitzero"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}

// ExperimentAnalysisRunStatus is the state of one analysis of an experiment.
type ExperimentAnalysisRunStatus struct {
	Name        string        `json:"name"`
	AnalysisRun string        `json:"analysisRun"`
	Phase       AnalysisPhase `json:"phase"`
	// +optional
	Message string `json:"message,omitempty"`
}
