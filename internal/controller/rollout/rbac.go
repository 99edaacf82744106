package rollout

// The permissions the Rollout reconciler needs. controller-gen turns these
// markers into config/rbac/role.yaml (make generate); the controller's tests
// run as a ServiceAccount bound to that ClusterRole, so a missing permission
// fails them.

// +kubebuilder:rbac:groups=ramp.dev,resources=rollouts,verbs=list;watch;patch
// +kubebuilder:rbac:groups=ramp.dev,resources=rollouts/status,verbs=patch
// +kubebuilder:rbac:groups=ramp.dev,resources=rollouts/finalizers,verbs=update
// +kubebuilder:rbac:groups=ramp.dev,resources=analysisruns,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=ramp.dev,resources=analysistemplates;clusteranalysistemplates,verbs=list;watch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=podtemplates,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch;patch
// +kubebuilder:rbac:groups="",resources=pods/eviction,verbs=create
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes;tcproutes,verbs=get;update
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;create;update;patch
// +kubebuilder:rbac:groups=elbv2.k8s.aws,resources=targetgroupbindings,verbs=list
// +kubebuilder:rbac:groups=split.smi-spec.io,resources=trafficsplits,verbs=get;create;update
// +kubebuilder:rbac:groups=networking.istio.io,resources=virtualservices;destinationrules,verbs=get;update
// +kubebuilder:rbac:groups=traefik.io,resources=traefikservices,verbs=get;update
// +kubebuilder:rbac:groups=apisix.apache.org,resources=apisixroutes,verbs=get;create;update;delete
// +kubebuilder:rbac:groups=getambassador.io,resources=mappings,verbs=get;create;update;delete
