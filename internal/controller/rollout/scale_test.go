package rollout_test

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// autoscalingScale wraps the Scale object of the scale subresource.
type autoscalingScale struct{ s autoscalingv1.Scale }

func (a *autoscalingScale) obj() client.Object { return &a.s }

// scaleTo writes the rollout's /scale, as an HorizontalPodAutoscaler does.
func (e *env) scaleTo(name string, n int32) {
	e.t.Helper()
	ro := e.rollout(name)
	s := &autoscalingScale{}
	if err := cl.SubResource("scale").Get(e.ctx, ro, s.obj()); err != nil {
		e.t.Fatal(err)
	}
	s.s.Spec.Replicas = n
	if err := cl.SubResource("scale").Update(e.ctx, ro, client.WithSubResourceBody(s.obj())); err != nil {
		e.t.Fatal(err)
	}
}
