package alb

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// The AWS Load Balancer Controller's annotation schema, as it documents
// and parses it (pkg/ingress/config_types.go there): an action and rule
// conditions. Field order is fixed so the same weights always encode to
// the same bytes, and the router can tell a no-op without decoding.
type (
	action struct {
		Type          string         `json:"type"`
		ForwardConfig *forwardConfig `json:"forwardConfig"`
	}
	forwardConfig struct {
		TargetGroups                []targetGroup `json:"targetGroups"`
		TargetGroupStickinessConfig *stickiness   `json:"targetGroupStickinessConfig,omitempty"`
	}
	targetGroup struct {
		ServiceName string `json:"serviceName"`
		ServicePort int32  `json:"servicePort"`
		Weight      int32  `json:"weight"`
	}
	stickiness struct {
		Enabled         bool  `json:"enabled"`
		DurationSeconds int64 `json:"durationSeconds"`
	}
	condition struct {
		Field            string        `json:"field"`
		HTTPHeaderConfig *headerConfig `json:"httpHeaderConfig"`
	}
	headerConfig struct {
		HTTPHeaderName string   `json:"httpHeaderName"`
		Values         []string `json:"values"`
	}
)

// forward is the action sending weight (of 100) to canary, each
// destination's weight to its Service (weighted experiment templates, in
// the middle), and the rest to stable, each on port.
func forward(canary, stable string, port int32, weight int32, destinations []v1alpha1.WeightDestination, sticky *v1alpha1.StickinessConfig) string {
	groups := []targetGroup{{ServiceName: canary, ServicePort: port, Weight: weight}}
	rest := 100 - weight
	for _, d := range destinations {
		groups = append(groups, targetGroup{ServiceName: d.ServiceName, ServicePort: port, Weight: d.Weight})
		rest -= d.Weight
	}
	groups = append(groups, targetGroup{ServiceName: stable, ServicePort: port, Weight: rest})
	a := action{Type: "forward", ForwardConfig: &forwardConfig{TargetGroups: groups}}
	a.ForwardConfig.TargetGroupStickinessConfig = stick(sticky)
	return encode(a)
}

// forwardAll is the action of a header route: everything it matches goes
// to canary.
func forwardAll(canary string, port int32, sticky *v1alpha1.StickinessConfig) string {
	a := action{Type: "forward", ForwardConfig: &forwardConfig{TargetGroups: []targetGroup{
		{ServiceName: canary, ServicePort: port, Weight: 100},
	}}}
	a.ForwardConfig.TargetGroupStickinessConfig = stick(sticky)
	return encode(a)
}

func stick(s *v1alpha1.StickinessConfig) *stickiness {
	if s == nil || !s.Enabled {
		return nil
	}
	return &stickiness{Enabled: true, DurationSeconds: s.DurationSeconds}
}

// conditions are a header route's rule conditions: one http-header
// condition per header name (the ALB ANDs them), its exact values ORed.
// The ALB matches only exact values (with * and ? wildcards); the
// validator refuses regex and prefix matches for this router.
func conditions(route *v1alpha1.SetHeaderRoute) (string, error) {
	var out []condition
	index := map[string]int{}
	for i, m := range route.Match {
		if m.HeaderValue == nil || m.HeaderValue.Exact == "" || m.HeaderValue.Regex != "" || m.HeaderValue.Prefix != "" {
			return "", fmt.Errorf("setHeaderRoute %q match[%d]: the ALB matches exact header values only", route.Name, i)
		}
		name := strings.ToLower(m.HeaderName)
		if j, ok := index[name]; ok {
			out[j].HTTPHeaderConfig.Values = append(out[j].HTTPHeaderConfig.Values, m.HeaderValue.Exact)
			continue
		}
		index[name] = len(out)
		out = append(out, condition{Field: "http-header", HTTPHeaderConfig: &headerConfig{HTTPHeaderName: m.HeaderName, Values: []string{m.HeaderValue.Exact}}})
	}
	return encode(out), nil
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the types above always encode
	}
	return string(b)
}

// CanaryWeight reads the canary's weight out of an action annotation's
// value: the weight of the target group whose Service is canary. Keys are
// matched without regard to case, as the AWS Load Balancer Controller's
// decoder does (Argo Rollouts wrote them capitalised).
func CanaryWeight(value, canary string) (int32, error) {
	weights, err := Weights(value)
	if err != nil {
		return 0, err
	}
	return weights[canary], nil
}

// Weights reads every target group's weight out of an action annotation's
// value, by Service name.
func Weights(value string) (map[string]int32, error) {
	var a struct {
		ForwardConfig *struct {
			TargetGroups []struct {
				ServiceName string
				Weight      int32
			}
		}
	}
	if err := json.Unmarshal([]byte(value), &a); err != nil {
		return nil, err
	}
	if a.ForwardConfig == nil {
		return nil, fmt.Errorf("not a forward action with target groups")
	}
	out := map[string]int32{}
	for _, tg := range a.ForwardConfig.TargetGroups {
		out[tg.ServiceName] += tg.Weight
	}
	return out, nil
}
