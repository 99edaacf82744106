package v1alpha1

import "k8s.io/apimachinery/pkg/util/intstr"

// Defaults of optional fields, as in Argo Rollouts. They are applied when
// read, never written into stored objects.
const (
	DefaultReplicas                    int32 = 1
	DefaultRevisionHistoryLimit        int32 = 10
	DefaultProgressDeadlineSeconds     int32 = 600
	DefaultScaleDownDelaySeconds       int32 = 30
	DefaultAbortScaleDownDelaySeconds  int32 = 30
	DefaultMinPodsPerReplicaSet        int32 = 1
	DefaultSuccessfulRunHistoryLimit   int32 = 5
	DefaultUnsuccessfulRunHistoryLimit int32 = 5
	DefaultMaxTrafficWeight            int32 = 100
	DefaultConsecutiveErrorLimit       int32 = 4
	DefaultMeasurementHistoryLimit     int32 = 10
	DefaultPrometheusTimeoutSeconds    int64 = 30
	DefaultWebTimeoutSeconds           int64 = 10
	DefaultWebJSONPath                       = "{$}"
	DefaultExperimentReplicas          int32 = 1
	DefaultALBAnnotationPrefix               = "alb.ingress.kubernetes.io"
	DefaultNginxAnnotationPrefix             = "nginx.ingress.kubernetes.io"
)

// DefaultMaxSurge and DefaultMaxUnavailable are 25%.
var (
	DefaultMaxSurge       = intstr.FromString("25%")
	DefaultMaxUnavailable = intstr.FromString("25%")
)

func int32Or(p *int32, d int32) int32 {
	if p == nil {
		return d
	}
	return *p
}

// GetReplicas returns spec.replicas or its default, 1.
func (s *RolloutSpec) GetReplicas() int32 { return int32Or(s.Replicas, DefaultReplicas) }

// GetRevisionHistoryLimit returns spec.revisionHistoryLimit or 10.
func (s *RolloutSpec) GetRevisionHistoryLimit() int32 {
	return int32Or(s.RevisionHistoryLimit, DefaultRevisionHistoryLimit)
}

// GetProgressDeadlineSeconds returns spec.progressDeadlineSeconds or 600.
func (s *RolloutSpec) GetProgressDeadlineSeconds() int32 {
	return int32Or(s.ProgressDeadlineSeconds, DefaultProgressDeadlineSeconds)
}

// GetAutoPromotionEnabled returns autoPromotionEnabled or true.
func (b *BlueGreenStrategy) GetAutoPromotionEnabled() bool {
	return b.AutoPromotionEnabled == nil || *b.AutoPromotionEnabled
}

// GetScaleDownDelaySeconds returns scaleDownDelaySeconds or 30.
func (b *BlueGreenStrategy) GetScaleDownDelaySeconds() int32 {
	return int32Or(b.ScaleDownDelaySeconds, DefaultScaleDownDelaySeconds)
}

// GetAbortScaleDownDelaySeconds returns abortScaleDownDelaySeconds or 30.
func (b *BlueGreenStrategy) GetAbortScaleDownDelaySeconds() int32 {
	return int32Or(b.AbortScaleDownDelaySeconds, DefaultAbortScaleDownDelaySeconds)
}

// GetMaxSurge returns maxSurge or 25%.
func (c *CanaryStrategy) GetMaxSurge() intstr.IntOrString {
	if c.MaxSurge == nil {
		return DefaultMaxSurge
	}
	return *c.MaxSurge
}

// GetMaxUnavailable returns maxUnavailable or 25%.
func (c *CanaryStrategy) GetMaxUnavailable() intstr.IntOrString {
	if c.MaxUnavailable == nil {
		return DefaultMaxUnavailable
	}
	return *c.MaxUnavailable
}

// GetScaleDownDelaySeconds returns scaleDownDelaySeconds or 30.
func (c *CanaryStrategy) GetScaleDownDelaySeconds() int32 {
	return int32Or(c.ScaleDownDelaySeconds, DefaultScaleDownDelaySeconds)
}

// GetAbortScaleDownDelaySeconds returns abortScaleDownDelaySeconds or 30.
func (c *CanaryStrategy) GetAbortScaleDownDelaySeconds() int32 {
	return int32Or(c.AbortScaleDownDelaySeconds, DefaultAbortScaleDownDelaySeconds)
}

// GetMinPodsPerReplicaSet returns minPodsPerReplicaSet or 1.
func (c *CanaryStrategy) GetMinPodsPerReplicaSet() int32 {
	return int32Or(c.MinPodsPerReplicaSet, DefaultMinPodsPerReplicaSet)
}

// GetMaxTrafficWeight returns trafficRouting.maxTrafficWeight or 100.
func (c *CanaryStrategy) GetMaxTrafficWeight() int32 {
	if c.TrafficRouting == nil {
		return DefaultMaxTrafficWeight
	}
	return int32Or(c.TrafficRouting.MaxTrafficWeight, DefaultMaxTrafficWeight)
}
