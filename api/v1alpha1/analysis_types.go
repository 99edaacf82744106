package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// AnalysisTemplate is a reusable set of metrics that decide whether a release
// may continue.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=at,categories=ramp
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AnalysisTemplateSpec `json:"spec"`
}

// AnalysisTemplateList is a list of AnalysisTemplates.
//
// +kubebuilder:object:root=true
type AnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AnalysisTemplate `json:"items"`
}

// ClusterAnalysisTemplate is an AnalysisTemplate available to every
// namespace.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cat,categories=ramp
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterAnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AnalysisTemplateSpec `json:"spec"`
}

// ClusterAnalysisTemplateList is a list of ClusterAnalysisTemplates.
//
// +kubebuilder:object:root=true
type ClusterAnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterAnalysisTemplate `json:"items"`
}

// AnalysisTemplateSpec is the content of an AnalysisTemplate.
//
// +kubebuilder:validation:XValidation:rule="(has(self.metrics) && size(self.metrics) > 0) || (has(self.templates) && size(self.templates) > 0)",message="an analysis template needs at least one of metrics or templates"
type AnalysisTemplateSpec struct {
	// Metrics are measured during the run.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=200
	Metrics []Metric `json:"metrics,omitempty"`
	// DryRun lists metrics (by name, or "*" for all) whose result never
	// decides the run.
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// MeasurementRetention sets how many measurements metrics keep.
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// Args are the template's arguments; one without a value is required.
	// +optional
	// +listType=map
	// +listMapKey=name
	Args []Argument `json:"args,omitempty"`
	// Templates nests other templates; their metrics and arguments are
	// merged in.
	// +optional
	Templates []AnalysisTemplateRef `json:"templates,omitempty"`
}

// AnalysisRun is one execution of an analysis: its metrics are measured
// until they decide the run's phase.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=ar,categories=all;ramp
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`,description="Pending, Running, Successful, Failed, Error or Inconclusive"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AnalysisRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AnalysisRunSpec `json:"spec"`
	// +optional
	Status AnalysisRunStatus `json:"status,omitzero"`
}

// AnalysisRunList is a list of AnalysisRuns.
//
// +kubebuilder:object:root=true
type AnalysisRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AnalysisRun `json:"items"`
}

// AnalysisRunSpec is the content of an AnalysisRun.
type AnalysisRunSpec struct {
	// Metrics are measured during the run.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=200
	Metrics []Metric `json:"metrics"`
	// Args are the run's arguments.
	// +optional
	// +listType=map
	// +listMapKey=name
	Args []Argument `json:"args,omitempty"`
	// Terminate stops the run; it counts as Successful unless a limit was
	// already exceeded.
	// +optional
	Terminate bool `json:"terminate,omitempty"`
	// DryRun lists metrics (or "*") whose result is recorded but never decides the run.
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// MeasurementRetention sets how many measurements metrics keep (10 by default).
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// TTLStrategy deletes the run some time after it completes.
	// +optional
	TTLStrategy *TTLStrategy `json:"ttlStrategy,omitempty"`
}

// TTLStrategy deletes a finished AnalysisRun after a delay.
type TTLStrategy struct {
	// SecondsAfterCompletion deletes the run this long after it completes, whatever its phase.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SecondsAfterCompletion *int32 `json:"secondsAfterCompletion,omitempty"`
	// SecondsAfterFailure deletes an unsuccessful run this long after it completes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SecondsAfterFailure *int32 `json:"secondsAfterFailure,omitempty"`
	// SecondsAfterSuccess deletes a successful run this long after it completes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SecondsAfterSuccess *int32 `json:"secondsAfterSuccess,omitempty"`
}

// DryRun names a metric (or "*" for all) that runs without deciding the
// outcome.
type DryRun struct {
	// MetricName is a metric's name, or "*" for every metric.
	// +kubebuilder:validation:MinLength=1
	MetricName string `json:"metricName"`
}

// MeasurementRetention keeps the last Limit measurements of the metrics
// whose name matches MetricName (a regular expression).
type MeasurementRetention struct {
	// MetricName is a regular expression matched against metric names.
	// +kubebuilder:validation:MinLength=1
	MetricName string `json:"metricName"`
	// Limit is the number of measurements kept.
	// +kubebuilder:validation:Minimum=0
	Limit int32 `json:"limit"`
}

// Argument is an argument of a template or run.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.value) && has(self.valueFrom))",message="an argument sets value or valueFrom, not both"
type Argument struct {
	// Name of the argument, used as {{args.name}}.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Value of the argument; when neither value nor valueFrom is set the
	// argument is required.
	// +optional
	Value *string `json:"value,omitempty"`
	// ValueFrom reads the value from a Secret or a field.
	// +optional
	ValueFrom *ValueFrom `json:"valueFrom,omitempty"`
}

// ValueFrom takes an argument's value from a Secret or a field.
//
// +kubebuilder:validation:XValidation:rule="has(self.secretKeyRef) != has(self.fieldRef)",message="valueFrom needs exactly one of secretKeyRef or fieldRef"
type ValueFrom struct {
	// SecretKeyRef reads a key of a Secret in the run's namespace. The value
	// is never written into the run.
	// +optional
	SecretKeyRef *SecretKeyRef `json:"secretKeyRef,omitempty"`
	// FieldRef reads a field of the run's owner, such as metadata.labels['app'].
	// +optional
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// SecretKeyRef names a key of a Secret.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Key within the Secret.
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// DurationString is a Go duration such as 30s, 5m or 1h30m.
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
type DurationString string

// Metric is one KPI: a provider's query, how often to ask it, and the
// conditions that judge each answer.
//
// +kubebuilder:validation:XValidation:rule="!has(self.count) || !(type(self.count) == int && self.count > 1) || (has(self.interval) && size(self.interval) > 0)",message="a metric with count > 1 needs an interval"
type Metric struct {
	// Name of the metric, unique in the run.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Interval between measurements. Without it one measurement is taken.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// InitialDelay before the first measurement.
	// +optional
	InitialDelay DurationString `json:"initialDelay,omitempty"`
	// Count is the number of measurements. 1 when neither count nor interval
	// is set; unbounded with an interval and no count.
	// +optional
	// +kubebuilder:validation:XIntOrString
	Count *intstr.IntOrString `json:"count,omitempty"`
	// SuccessCondition is an expression over result that passes a
	// measurement.
	// +optional
	SuccessCondition string `json:"successCondition,omitempty"`
	// FailureCondition is an expression over result that fails a
	// measurement.
	// +optional
	FailureCondition string `json:"failureCondition,omitempty"`
	// FailureLimit: the metric fails when more measurements failed. -1
	// disables it. Defaults to 0.
	// +optional
	// +kubebuilder:validation:XIntOrString
	FailureLimit *intstr.IntOrString `json:"failureLimit,omitempty"`
	// InconclusiveLimit: the metric is Inconclusive when more measurements
	// were. Defaults to 0.
	// +optional
	// +kubebuilder:validation:XIntOrString
	InconclusiveLimit *intstr.IntOrString `json:"inconclusiveLimit,omitempty"`
	// ConsecutiveErrorLimit: the metric is Error when more consecutive
	// measurements errored. Defaults to 4.
	// +optional
	// +kubebuilder:validation:XIntOrString
	ConsecutiveErrorLimit *intstr.IntOrString `json:"consecutiveErrorLimit,omitempty"`
	// ConsecutiveSuccessLimit: the metric succeeds after this many
	// consecutive successes. 0 disables it.
	// +optional
	// +kubebuilder:validation:XIntOrString
	ConsecutiveSuccessLimit *intstr.IntOrString `json:"consecutiveSuccessLimit,omitempty"`
	// Provider is where the measurement comes from: exactly one provider.
	Provider MetricProvider `json:"provider"`
}

// AnalysisPhase is the phase of a run, a metric or a measurement.
type AnalysisPhase string

// Values of AnalysisPhase.
const (
	AnalysisPhasePending      AnalysisPhase = "Pending"
	AnalysisPhaseRunning      AnalysisPhase = "Running"
	AnalysisPhaseSuccessful   AnalysisPhase = "Successful"
	AnalysisPhaseFailed       AnalysisPhase = "Failed"
	AnalysisPhaseError        AnalysisPhase = "Error"
	AnalysisPhaseInconclusive AnalysisPhase = "Inconclusive"
)

// Completed reports whether the phase is final.
func (p AnalysisPhase) Completed() bool {
	switch p {
	case AnalysisPhaseSuccessful, AnalysisPhaseFailed, AnalysisPhaseError, AnalysisPhaseInconclusive:
		return true
	}
	return false
}

// AnalysisRunStatus is the observed state of an AnalysisRun.
type AnalysisRunStatus struct {
	// Phase is the run's phase: Pending, Running, Successful, Failed, Error or Inconclusive.
	// +optional
	Phase AnalysisPhase `json:"phase,omitempty"`
	// Message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// MetricResults hold each metric's measurements and counters.
	// +optional
	MetricResults []MetricResult `json:"metricResults,omitempty"`
	// StartedAt is when the run started measuring.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// RunSummary counts the metrics by phase.
	// +optional
	RunSummary RunSummary `json:"runSummary,omitzero"`
	// DryRunSummary counts the dry-run metrics by phase.
	// +optional
	DryRunSummary *RunSummary `json:"dryRunSummary,omitempty"`
	// CompletedAt is when the run reached a final phase.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// RunSummary counts metrics by phase.
type RunSummary struct {
	// Count of metrics.
	// +optional
	Count int32 `json:"count,omitempty"`
	// Successful metrics.
	// +optional
	Successful int32 `json:"successful,omitempty"`
	// Failed metrics.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Inconclusive metrics.
	// +optional
	Inconclusive int32 `json:"inconclusive,omitempty"`
	// Metrics in Error.
	// +optional
	Error int32 `json:"error,omitempty"`
}

// MetricResult is the state of one metric of a run.
type MetricResult struct {
	// Name of the metric.
	Name string `json:"name"`
	// Phase of the metric.
	Phase AnalysisPhase `json:"phase"`
	// Measurements are the latest measurements, oldest first, as many as the retention keeps.
	// +optional
	Measurements []Measurement `json:"measurements,omitempty"`
	// Message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// Count of measurements taken.
	// +optional
	Count int32 `json:"count,omitempty"`
	// Successful measurements.
	// +optional
	Successful int32 `json:"successful,omitempty"`
	// Failed measurements.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Inconclusive measurements.
	// +optional
	Inconclusive int32 `json:"inconclusive,omitempty"`
	// Measurements in Error.
	// +optional
	Error int32 `json:"error,omitempty"`
	// ConsecutiveError counts the errors since the last measurement that was not an error.
	// +optional
	ConsecutiveError int32 `json:"consecutiveError,omitempty"`
	// ConsecutiveSuccess counts the successes since the last measurement that was not a success.
	// +optional
	ConsecutiveSuccess int32 `json:"consecutiveSuccess,omitempty"`
	// DryRun is true for a metric that does not decide the run.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Metadata holds provider details, such as the resolved query.
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Measurement is one observation of a metric.
type Measurement struct {
	// Phase of the measurement.
	Phase AnalysisPhase `json:"phase"`
	// Message explains an error or an unexpected value.
	// +optional
	Message string `json:"message,omitempty"`
	// StartedAt is when the measurement began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// FinishedAt is when the measurement completed.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Value is the provider's answer, as text.
	// +optional
	Value string `json:"value,omitempty"`
	// Metadata holds provider details, such as a Job's name.
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
	// ResumeAt is when a measurement still running is polled again.
	// +optional
	ResumeAt *metav1.Time `json:"resumeAt,omitempty"`
}
