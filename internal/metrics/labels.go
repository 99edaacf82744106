package metrics

import (
	"github.com/rampdev/ramp/api/v1alpha1"
)

// Strategy is rollout_info's strategy label: blueGreen, canary or none.
func Strategy(ro *v1alpha1.Rollout) string {
	switch {
	case ro.Spec.Strategy.BlueGreen != nil:
		return "blueGreen"
	case ro.Spec.Strategy.Canary != nil:
		return "canary"
	}
	return "none"
}

// TrafficRouter is rollout_info's traffic_router label. Argo Rollouts names
// ALB, Ambassador, Istio, Nginx, SMI and AppMesh (the last of those set
// wins) and leaves the rest empty; Ramp names its other built-in routers
// too (GatewayAPI, Traefik, Apisix), after those six. A plugin router is
// empty.
func TrafficRouter(ro *v1alpha1.Rollout) string {
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil {
		return ""
	}
	t := c.TrafficRouting
	name := ""
	for _, r := range []struct {
		set  bool
		name string
	}{
		{t.ALB != nil, "ALB"}, {t.Ambassador != nil, "Ambassador"}, {t.Istio != nil, "Istio"},
		{t.Nginx != nil, "Nginx"}, {t.SMI != nil, "SMI"}, {t.AppMesh != nil, "AppMesh"},
	} {
		if r.set {
			name = r.name
		}
	}
	if name != "" {
		return name
	}
	switch {
	case t.GatewayAPI != nil:
		return "GatewayAPI"
	case t.Traefik != nil:
		return "Traefik"
	case t.Apisix != nil:
		return "Apisix"
	}
	return ""
}

// Phase is rollout_info's phase label, a metrics-only phase (not
// status.phase): InvalidSpec when the spec is invalid, else from the reason
// of the Progressing condition: Completed, Paused, Error, Timeout, Abort,
// or Progressing.
func Phase(ro *v1alpha1.Rollout) string {
	phase := "Progressing"
	for _, c := range ro.Status.Conditions {
		if c.Type == v1alpha1.InvalidSpec {
			return "InvalidSpec"
		}
		if c.Type != v1alpha1.RolloutProgressing {
			continue
		}
		switch c.Reason {
		case v1alpha1.ReasonNewReplicaSetAvailable:
			phase = "Completed"
		case v1alpha1.ReasonRolloutPaused:
			phase = "Paused"
		case "ReplicaSetCreateError":
			phase = "Error"
		case v1alpha1.ReasonProgressDeadlineExceeded:
			phase = "Timeout"
		case v1alpha1.ReasonRolloutAborted:
			phase = "Abort"
		}
	}
	return phase
}

// ProviderType is the type label of a metric's provider, with Argo
// Rollouts' spelling (skywalking in lower case; RPCPlugin for a plugin).
func ProviderType(p v1alpha1.MetricProvider) string {
	switch {
	case p.Prometheus != nil:
		return "Prometheus"
	case p.Job != nil:
		return "Job"
	case p.Kayenta != nil:
		return "Kayenta"
	case p.Web != nil:
		return "Web"
	case p.Datadog != nil:
		return "Datadog"
	case p.Wavefront != nil:
		return "Wavefront"
	case p.NewRelic != nil:
		return "NewRelic"
	case p.CloudWatch != nil:
		return "CloudWatch"
	case p.Graphite != nil:
		return "Graphite"
	case p.Influxdb != nil:
		return "Influxdb"
	case p.SkyWalking != nil:
		return "skywalking"
	case len(p.Plugin) > 0:
		return "RPCPlugin"
	}
	return "Unknown Provider"
}
