package notify

import (
	"testing"

	"github.com/argoproj/notifications-engine/pkg/api"
	"github.com/argoproj/notifications-engine/pkg/services"
	corev1 "k8s.io/api/core/v1"
)

// Subscribers come from the global subscriptions (by label), and from the
// object's annotations with Ramp's prefix or Argo's, in both forms.
func TestDestinations(t *testing.T) {
	cfg, err := api.ParseConfig(&corev1.ConfigMap{Data: map[string]string{
		"service.webhook.hook":      "url: http://127.0.0.1:1\n",
		"service.slack":             "token: x\n",
		"trigger.on-rollout-paused": "- send: [t]\n",
		"template.t":                "message: m\n",
		"subscriptions":             "- recipients: [slack:ops]\n  triggers: [on-rollout-paused]\n  selector: team=shop\n",
	}}, &corev1.Secret{})
	if err != nil {
		t.Fatal(err)
	}
	l := &loaded{cfg: cfg}
	obj := map[string]any{"metadata": map[string]any{
		"labels": map[string]any{"team": "shop"},
		"annotations": map[string]any{
			"notifications.ramp.dev/subscribe.on-rollout-paused.slack":   "deploys; releases",
			"notifications.argoproj.io/subscribe.on-rollout-paused.hook": "",
			"notifications.ramp.dev/subscriptions":                       "- trigger: [on-rollout-paused]\n  destinations:\n  - service: slack\n    recipients: [qa]\n",
		},
	}}
	got := map[services.Destination]bool{}
	for _, d := range destinations(l, "on-rollout-paused", obj) {
		got[d] = true
	}
	for _, want := range []services.Destination{
		{Service: "slack", Recipient: "ops"}, {Service: "slack", Recipient: "deploys"}, {Service: "slack", Recipient: "releases"},
		{Service: "hook", Recipient: ""}, {Service: "slack", Recipient: "qa"},
	} {
		if !got[want] {
			t.Errorf("%+v is not a subscriber: %v", want, got)
		}
	}
	if len(got) != 5 {
		t.Errorf("subscribers %v", got)
	}
	// Another team's rollout gets only its own annotations.
	obj["metadata"].(map[string]any)["labels"] = map[string]any{"team": "pay"}
	for _, d := range destinations(l, "on-rollout-paused", obj) {
		if d.Recipient == "ops" {
			t.Error("the global subscription matched another team")
		}
	}
}
