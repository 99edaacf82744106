package v1alpha1

import "encoding/json"

// RolloutTrafficRouting configures the routers that shift traffic during a
// canary. Several routers may be set at once; each receives the same weight.
//
// +kubebuilder:validation:XValidation:rule="[has(self.istio), has(self.nginx), has(self.alb), has(self.smi), has(self.ambassador), has(self.appMesh), has(self.traefik), has(self.apisix), has(self.gatewayAPI), has(self.plugins)].exists(x, x)",message="trafficRouting needs at least one router (istio, nginx, alb, smi, ambassador, appMesh, traefik, apisix, gatewayAPI or plugins)"
type RolloutTrafficRouting struct {
	// Istio patches VirtualService routes and DestinationRule subsets.
	// +optional
	Istio *IstioTrafficRouting `json:"istio,omitempty"`
	// Nginx creates a canary Ingress beside the stable one.
	// +optional
	Nginx *NginxTrafficRouting `json:"nginx,omitempty"`
	// ALB writes the AWS Load Balancer Controller's action annotations.
	// +optional
	ALB *ALBTrafficRouting `json:"alb,omitempty"`
	// SMI owns an SMI TrafficSplit.
	// +optional
	SMI *SMITrafficRouting `json:"smi,omitempty"`
	// Ambassador clones Mappings into weighted canary Mappings.
	// +optional
	Ambassador *AmbassadorTrafficRouting `json:"ambassador,omitempty"`
	// AppMesh patches VirtualRouter routes and VirtualNode selectors.
	// +optional
	AppMesh *AppMeshTrafficRouting `json:"appMesh,omitempty"`
	// Traefik patches a weighted TraefikService.
	// +optional
	Traefik *TraefikTrafficRouting `json:"traefik,omitempty"`
	// Apisix patches ApisixRoute backend weights.
	// +optional
	Apisix *ApisixTrafficRouting `json:"apisix,omitempty"`
	// GatewayAPI patches HTTPRoute and GRPCRoute backendRef weights. Built
	// into Ramp; Argo Rollouts has it only as the argoproj-labs/gatewayAPI
	// plugin, whose configuration this block takes unchanged.
	// +optional
	GatewayAPI *GatewayAPITrafficRouting `json:"gatewayAPI,omitempty"`
	// Plugins configures out-of-tree routers, keyed "<org>/<name>".
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Plugins map[string]json.RawMessage `json:"plugins,omitempty"`
	// ManagedRoutes lists, in order of precedence, the routes that
	// setHeaderRoute and setMirrorRoute steps may create. They are removed at
	// the end of an update and on abort.
	// +optional
	// +listType=map
	// +listMapKey=name
	ManagedRoutes []MangedRoutes `json:"managedRoutes,omitempty"`
	// MaxTrafficWeight is the total weight setWeight counts against.
	// Defaults to 100. NGINX, Gateway API and plugins only.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxTrafficWeight *int32 `json:"maxTrafficWeight,omitempty"`
}

// MangedRoutes names a managed route. The type keeps Argo Rollouts' spelling.
type MangedRoutes struct {
	// Name of the route.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// IstioTrafficRouting configures Istio.
//
// +kubebuilder:validation:XValidation:rule="has(self.virtualService) != has(self.virtualServices)",message="istio needs exactly one of virtualService or virtualServices"
type IstioTrafficRouting struct {
	// VirtualService is the one VirtualService to patch.
	// +optional
	VirtualService *IstioVirtualService `json:"virtualService,omitempty"`
	// VirtualServices are several VirtualServices to patch.
	// +optional
	VirtualServices []IstioVirtualService `json:"virtualServices,omitempty"`
	// DestinationRule enables a subset-level split.
	// +optional
	DestinationRule *IstioDestinationRule `json:"destinationRule,omitempty"`
}

// IstioVirtualService names a VirtualService and the routes to patch.
type IstioVirtualService struct {
	// Name of the VirtualService, optionally namespace-qualified (ns/name).
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Routes are the names of the HTTP routes to patch. Optional when the
	// VirtualService has one HTTP route.
	// +optional
	Routes []string `json:"routes,omitempty"`
	// TLSRoutes to patch, matched by port and SNI hosts.
	// +optional
	TLSRoutes []TLSRoute `json:"tlsRoutes,omitempty"`
	// TCPRoutes to patch, matched by port.
	// +optional
	TCPRoutes []TCPRoute `json:"tcpRoutes,omitempty"`
}

// TLSRoute matches an Istio TLS route.
type TLSRoute struct {
	// Port the TLS route matches.
	// +optional
	Port int64 `json:"port,omitempty"`
	// SNIHosts the TLS route matches.
	// +optional
	SNIHosts []string `json:"sniHosts,omitempty"`
}

// TCPRoute matches an Istio TCP route.
type TCPRoute struct {
	// Port the TCP route matches.
	// +optional
	Port int64 `json:"port,omitempty"`
}

// IstioDestinationRule names the subsets of a subset-level split.
type IstioDestinationRule struct {
	// Name of the DestinationRule.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// CanarySubsetName is the subset patched with the canary's hash.
	// +kubebuilder:validation:MinLength=1
	CanarySubsetName string `json:"canarySubsetName"`
	// StableSubsetName is the subset patched with the stable hash.
	// +kubebuilder:validation:MinLength=1
	StableSubsetName string `json:"stableSubsetName"`
	// AdditionalSubsetNames are other subsets, for weighted experiments.
	// +optional
	AdditionalSubsetNames []string `json:"additionalSubsetNames,omitempty"`
}

// NginxTrafficRouting configures the NGINX Ingress controller.
//
// +kubebuilder:validation:XValidation:rule="(has(self.stableIngress) && size(self.stableIngress) > 0) != (has(self.stableIngresses) && size(self.stableIngresses) > 0)",message="nginx needs exactly one of stableIngress or stableIngresses"
type NginxTrafficRouting struct {
	// AnnotationPrefix defaults to nginx.ingress.kubernetes.io.
	// +optional
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`
	// StableIngress is the Ingress of the stable Service.
	// +optional
	StableIngress string `json:"stableIngress,omitempty"`
	// StableIngresses are several Ingresses of the stable Service.
	// +optional
	StableIngresses []string `json:"stableIngresses,omitempty"`
	// AdditionalIngressAnnotations are added, prefixed, to the canary
	// Ingress.
	// +optional
	AdditionalIngressAnnotations map[string]string `json:"additionalIngressAnnotations,omitempty"`
	// CanaryIngressAnnotations are added with their full keys to the canary
	// Ingress; they win on collision.
	// +optional
	CanaryIngressAnnotations map[string]string `json:"canaryIngressAnnotations,omitempty"`
}

// ALBTrafficRouting configures the AWS Load Balancer Controller.
//
// +kubebuilder:validation:XValidation:rule="(has(self.ingress) && size(self.ingress) > 0) != (has(self.ingresses) && size(self.ingresses) > 0)",message="alb needs exactly one of ingress or ingresses"
type ALBTrafficRouting struct {
	// Ingress is the Ingress whose action annotation carries the weights.
	// +optional
	Ingress string `json:"ingress,omitempty"`
	// Ingresses are several Ingresses that get the same weights.
	// +optional
	Ingresses []string `json:"ingresses,omitempty"`
	// ServicePort is the port of the Services in the forward action.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	ServicePort int32 `json:"servicePort"`
	// RootService names the action; defaults to the stable Service.
	// +optional
	RootService string `json:"rootService,omitempty"`
	// AnnotationPrefix defaults to alb.ingress.kubernetes.io.
	// +optional
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`
	// StickinessConfig keeps a client on one target group.
	// +optional
	StickinessConfig *StickinessConfig `json:"stickinessConfig,omitempty"`
}

// StickinessConfig is the ALB target-group stickiness.
type StickinessConfig struct {
	// Enabled turns target-group stickiness on.
	Enabled bool `json:"enabled"`
	// DurationSeconds is how long a client sticks, 1 to 604800.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	DurationSeconds int64 `json:"durationSeconds"`
}

// SMITrafficRouting configures an SMI TrafficSplit.
type SMITrafficRouting struct {
	// RootService is the Service clients call; defaults to the stable one.
	// +optional
	RootService string `json:"rootService,omitempty"`
	// TrafficSplitName defaults to the rollout's name.
	// +optional
	TrafficSplitName string `json:"trafficSplitName,omitempty"`
}

// AmbassadorTrafficRouting names the Ambassador Mappings to clone.
type AmbassadorTrafficRouting struct {
	// Mappings are the Ambassador Mappings to clone into weighted canary Mappings.
	// +kubebuilder:validation:MinItems=1
	Mappings []string `json:"mappings"`
}

// AppMeshTrafficRouting configures AWS App Mesh.
type AppMeshTrafficRouting struct {
	// VirtualService whose routes are weighted.
	// +optional
	VirtualService *AppMeshVirtualService `json:"virtualService,omitempty"`
	// VirtualNodeGroup are the canary and stable virtual nodes.
	// +optional
	VirtualNodeGroup *AppMeshVirtualNodeGroup `json:"virtualNodeGroup,omitempty"`
}

// AppMeshVirtualService names an App Mesh virtual service and routes.
type AppMeshVirtualService struct {
	// Name of the virtual service.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Routes to weight; empty means all.
	// +optional
	Routes []string `json:"routes,omitempty"`
}

// AppMeshVirtualNodeGroup names the canary and stable virtual nodes.
type AppMeshVirtualNodeGroup struct {
	// CanaryVirtualNodeRef is the canary's virtual node.
	CanaryVirtualNodeRef *AppMeshVirtualNodeReference `json:"canaryVirtualNodeRef"`
	// StableVirtualNodeRef is the stable version's virtual node.
	StableVirtualNodeRef *AppMeshVirtualNodeReference `json:"stableVirtualNodeRef"`
}

// AppMeshVirtualNodeReference names a virtual node.
type AppMeshVirtualNodeReference struct {
	// Name of the virtual node.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// TraefikTrafficRouting names a weighted TraefikService.
type TraefikTrafficRouting struct {
	// WeightedTraefikServiceName is the TraefikService whose weights are patched.
	// +kubebuilder:validation:MinLength=1
	WeightedTraefikServiceName string `json:"weightedTraefikServiceName"`
}

// ApisixTrafficRouting names an ApisixRoute.
type ApisixTrafficRouting struct {
	// Route is the ApisixRoute to patch.
	// +optional
	Route *ApisixRoute `json:"route,omitempty"`
}

// ApisixRoute names an ApisixRoute and its rules.
type ApisixRoute struct {
	// Name of the ApisixRoute.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Rules to weight; empty means all.
	// +optional
	Rules []string `json:"rules,omitempty"`
}

// GatewayAPITrafficRouting configures Gateway API routes. Its fields are
// those of the argoproj-labs/gatewayAPI plugin's configuration.
//
// +kubebuilder:validation:XValidation:rule="[has(self.httpRoute), has(self.httpRoutes), has(self.grpcRoute), has(self.grpcRoutes), has(self.tcpRoute), has(self.tcpRoutes)].exists(x, x)",message="gatewayAPI needs at least one of httpRoute, httpRoutes, grpcRoute, grpcRoutes, tcpRoute or tcpRoutes"
type GatewayAPITrafficRouting struct {
	// HTTPRoute names a single HTTPRoute.
	// +optional
	HTTPRoute string `json:"httpRoute,omitempty"`
	// HTTPRoutes names several HTTPRoutes (and optionally a rule each).
	// +optional
	HTTPRoutes []GatewayAPIRoute `json:"httpRoutes,omitempty"`
	// GRPCRoute names a single GRPCRoute.
	// +optional
	GRPCRoute string `json:"grpcRoute,omitempty"`
	// GRPCRoutes names several GRPCRoutes.
	// +optional
	GRPCRoutes []GatewayAPIRoute `json:"grpcRoutes,omitempty"`
	// TCPRoute names a single TCPRoute.
	// +optional
	TCPRoute string `json:"tcpRoute,omitempty"`
	// TCPRoutes names several TCPRoutes.
	// +optional
	TCPRoutes []GatewayAPIRoute `json:"tcpRoutes,omitempty"`
	// Namespace of the routes; defaults to the rollout's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// ConfigMap where header-route bookkeeping is kept; defaults to
	// ramp-gatewayapi-state.
	// +optional
	ConfigMap string `json:"configMap,omitempty"`
}

// GatewayAPIRoute names one route and, optionally, one of its rules.
type GatewayAPIRoute struct {
	// Name of the route.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Rule is the name of the rule (sectionName) whose backendRefs are
	// weighted; empty means every rule that references the stable Service.
	// +optional
	Rule string `json:"rule,omitempty"`
	// UseHeaderRoutes says this route receives setHeaderRoute rules.
	// +optional
	UseHeaderRoutes bool `json:"useHeaderRoutes,omitempty"`
}
