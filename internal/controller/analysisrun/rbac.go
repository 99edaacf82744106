package analysisrun

// The permissions the AnalysisRun reconciler needs (see
// internal/controller/rollout/rbac.go). Secrets are read one by one, when
// an argument names one, and never cached or listed.

// +kubebuilder:rbac:groups=ramp.dev,resources=analysisruns,verbs=list;watch;patch;delete
// +kubebuilder:rbac:groups=ramp.dev,resources=analysisruns/status,verbs=patch
// +kubebuilder:rbac:groups=ramp.dev,resources=analysisruns/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
