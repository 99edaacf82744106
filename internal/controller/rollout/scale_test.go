package rollout_test

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// autoscalingScale wraps the Scale object of the scale subresource.
type autoscalingScale struct{ s autoscalingv1.Scale }

func (a *autoscalingScale) obj() client.Object { return &a.s }

func (a *autoscalingScale) setReplicas(n int32) { a.s.Spec.Replicas = n }
