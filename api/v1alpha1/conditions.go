package v1alpha1

// Rollout condition types. They are shared by the controller, the CLI and the
// dashboard.
const (
	// InvalidSpec means the spec cannot be acted on; the message names the
	// field and the rule.
	InvalidSpec RolloutConditionType = "InvalidSpec"
	// RolloutAvailable means at least the minimum number of pods is available.
	RolloutAvailable RolloutConditionType = "Available"
	// RolloutProgressing means an update is moving, or has finished.
	RolloutProgressing RolloutConditionType = "Progressing"
	// RolloutReplicaFailure means pods could not be created.
	RolloutReplicaFailure RolloutConditionType = "ReplicaFailure"
	// RolloutPaused means the rollout is paused.
	RolloutPaused RolloutConditionType = "Paused"
	// RolloutCompleted means every pod runs the desired template.
	RolloutCompleted RolloutConditionType = "Completed"
	// RolloutHealthy means the rollout is fully promoted and available.
	RolloutHealthy RolloutConditionType = "Healthy"
)

// Experiment condition types.
const (
	ExperimentInvalidSpec    ExperimentConditionType = "InvalidSpec"
	ExperimentCompleted      ExperimentConditionType = "Completed"
	ExperimentProgressing    ExperimentConditionType = "Progressing"
	ExperimentRunning        ExperimentConditionType = "Running"
	ExperimentReplicaFailure ExperimentConditionType = "ReplicaFailure"
)

// Reasons of conditions and Kubernetes events, with Argo Rollouts' spelling
// so that alerts and notification triggers keep working.
const (
	ReasonInvalidSpec              = "InvalidSpec"
	ReasonReplicaSetUpdated        = "ReplicaSetUpdated"
	ReasonNewReplicaSetCreated     = "NewReplicaSetCreated"
	ReasonFoundNewReplicaSet       = "FoundNewReplicaSet"
	ReasonRolloutUpdated           = "RolloutUpdated"
	ReasonRolloutCompleted         = "RolloutCompleted"
	ReasonRolloutHealthy           = "RolloutHealthy"
	ReasonRolloutAborted           = "RolloutAborted"
	ReasonRolloutRetry             = "RolloutRetry"
	ReasonRolloutPaused            = "RolloutPaused"
	ReasonRolloutResumed           = "RolloutResumed"
	ReasonRolloutStepCompleted     = "RolloutStepCompleted"
	ReasonTrafficWeightUpdated     = "TrafficWeightUpdated"
	ReasonNewReplicaSetAvailable   = "NewReplicaSetAvailable"
	ReasonAnalysisRunFailed        = "AnalysisRunFailed"
	ReasonExperimentFailed         = "ExperimentFailed"
	ReasonReconciliationError      = "ReconciliationError"
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	ReasonScalingReplicaSet        = "ScalingReplicaSet"
	ReasonServiceReferenceError    = "ServiceReferenceError"
	ReasonStepPluginTransition     = "StepPluginTransition"
	ReasonTargetGroupVerified      = "TargetGroupVerified"
	ReasonTargetGroupUnverified    = "TargetGroupUnverified"
	ReasonTargetGroupVerifyError   = "TargetGroupVerifyError"
	ReasonWeightVerifyError        = "WeightVerifyError"
	ReasonLoadBalancerNotFound     = "LoadBalancerNotFound"
)

// Values of status.duration.completionStatus: how an update ended.
const (
	// CompletionPromoted: the update went through its steps and was promoted.
	CompletionPromoted = "Promoted"
	// CompletionFastPromoted: promote-full skipped the remaining steps.
	CompletionFastPromoted = "FastPromoted"
	// CompletionAborted: the update was aborted, by hand or by analysis.
	CompletionAborted = "Aborted"
	// CompletionSuperseded: a newer template replaced it before it ended.
	CompletionSuperseded = "Superseded"
	// CompletionRolledBack: the template went back to the stable one.
	CompletionRolledBack = "RolledBack"
	// CompletionFastRolledBack: the template went back to a version still
	// running inside its scale-down delay, which took the traffic at once.
	CompletionFastRolledBack = "FastRolledBack"
)

// Labels and annotations. Keys that users' queries and dashboards rely on
// keep Argo Rollouts' spelling; Ramp's own keys live under ramp.dev/.
const (
	// DefaultRolloutUniqueLabelKey is on every ReplicaSet and pod a rollout
	// owns, and is injected into Service selectors.
	DefaultRolloutUniqueLabelKey = "rollouts-pod-template-hash"

	// ManagedByRolloutsKey marks Services, Ingresses and other objects a
	// rollout manages; its value is the rollout's name.
	ManagedByRolloutsKey = "ramp.dev/managed-by-rollouts"
	// ManagedLabelKey ("true") labels the objects a rollout manages but did
	// not create, such as Services, so that the controller's caches can hold
	// them and nothing else of their kind.
	ManagedLabelKey = "ramp.dev/managed"
	// ScaleDownDeadlineAnnotationKey holds the time an old ReplicaSet is
	// scaled down.
	ScaleDownDeadlineAnnotationKey = "scale-down-deadline"
	// RestartedAfterAnnotationKey marks pods restarted by spec.restartAt.
	RestartedAfterAnnotationKey = "ramp.dev/restarted-after"
	// RevisionAnnotation is a ReplicaSet's revision number.
	RevisionAnnotation = "rollout.ramp.dev/revision"
	// RevisionHistoryAnnotation lists the earlier revisions of a ReplicaSet.
	RevisionHistoryAnnotation = "rollout.ramp.dev/revision-history"
	// TemplateDigestAnnotation is the SHA-256 of the pod template (as the
	// Rollout holds it) a ReplicaSet was made from. The API server adds
	// defaults to a ReplicaSet's template, so this, not the template, tells
	// whether a ReplicaSet runs a Rollout's template.
	TemplateDigestAnnotation = "rollout.ramp.dev/template-digest"
	// DesiredReplicasAnnotation is the rollout's replicas when the
	// ReplicaSet was last scaled.
	DesiredReplicasAnnotation = "rollout.ramp.dev/desired-replicas"
	// WorkloadGenerationAnnotation is the generation of the workloadRef
	// Deployment.
	WorkloadGenerationAnnotation = "rollout.ramp.dev/workload-generation"
	// ManagedALBAnnotationsKey, on an ALB Ingress, holds as JSON which of
	// its annotation keys each Rollout wrote: {"<rollout>": ["<key>", ...]}.
	ManagedALBAnnotationsKey = "ramp.dev/managed-alb-annotations"
	// RoutingFinalizer holds a deleted Rollout with traffic routing until
	// its routers send everything back to the stable Service: a load
	// balancer is never left weighting a canary that no longer exists.
	RoutingFinalizer = "ramp.dev/traffic-routing"
	// RoutingAnnotation records, beside the finalizer, the routing the
	// finalizer was added for (the canary strategy's trafficRouting and
	// Services), so that the routers can still be reset once the spec no
	// longer names them (trafficRouting removed from a rollout).
	RoutingAnnotation = "ramp.dev/traffic-routing"
	// MigratingAnnotation is on a Rollout while `ramp migrate` moves an Argo
	// Rollout's objects to it, or hands them back: the controller leaves a
	// rollout that carries it alone (no write at all), so it never acts on
	// half-moved objects.
	MigratingAnnotation = "ramp.dev/migrating"
	// MigratedFromAnnotation records the Argo Rollout a Rollout was migrated
	// from: "argoproj.io/v1alpha1 Rollout <uid>".
	MigratedFromAnnotation = "ramp.dev/migrated-from"
	// InstanceIDLabelKey shards rollouts between controller instances.
	InstanceIDLabelKey = "ramp.dev/controller-instance-id"

	// RolloutTypeLabel is on AnalysisRuns: Step, Background, PrePromotion or
	// PostPromotion.
	RolloutTypeLabel = "rollout-type"
	// RolloutTypeStepLabel is the value of RolloutTypeLabel for step runs.
	RolloutTypeStepLabel = "Step"
	// RolloutTypeBackgroundRunLabel is the value for background runs.
	RolloutTypeBackgroundRunLabel = "Background"
	// RolloutTypePrePromotionLabel is the value for pre-promotion runs.
	RolloutTypePrePromotionLabel = "PrePromotion"
	// RolloutTypePostPromotionLabel is the value for post-promotion runs.
	RolloutTypePostPromotionLabel = "PostPromotion"
	// RolloutCanaryStepIndexLabel is the step index of a step run.
	RolloutCanaryStepIndexLabel = "step-index"

	// ExperimentNameLabelKey is on an experiment's ReplicaSets.
	ExperimentNameLabelKey = "experiment.ramp.dev/name"
	// ExperimentTemplateNameLabelKey is the experiment template's name.
	ExperimentTemplateNameLabelKey = "experiment.ramp.dev/template-name"
)
