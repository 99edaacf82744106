package cli_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// `ramp notifications` tries a configuration without a release: a trigger
// judged on a rollout, with its subscribers; a template rendered and sent
// to a local webhook.
func TestNotificationsCommands(t *testing.T) {
	ctx := t.Context()
	ns := clustertest.Namespace(t, admin)
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	// A configuration in its own namespace (--config-namespace), so that
	// the controller of this test process, which reads ramp-system, does
	// not act on it.
	cfgNS := clustertest.Namespace(t, admin)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: cfgNS, Name: "ramp-notification-configmap"}, Data: map[string]string{
		"service.webhook.hook": fmt.Sprintf("url: %s\n", hook.URL),
		"trigger.on-big":       "- when: rollout.spec.replicas > 2\n  send: [big]\n- when: rollout.spec.replicas > 1\n  send: [big]\n",
		"template.big":         "message: big\nwebhook:\n  hook:\n    method: POST\n    body: '{{.rollout.metadata.name}} has {{.rollout.spec.replicas}} replicas'\n",
	}}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cart", Annotations: map[string]string{"notifications.ramp.dev/subscribe.on-big.hook": ""}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cart"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/cart:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}},
		},
	}
	if err := admin.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, ro); err != nil {
		t.Fatal(err)
	}

	out := mustRamp(t, ns, "notifications", "trigger", "run", "on-big", "cart", "--config-namespace", cfgNS)
	expectLine(t, out, "condition 0: when rollout.spec.replicas > 2: triggered false; sends big\n"+
		"condition 1: when rollout.spec.replicas > 1: triggered true; sends big\n"+
		"subscribers: hook:")

	out = mustRamp(t, ns, "notifications", "template", "notify", "big", "cart", "--recipient", "hook:", "--config-namespace", cfgNS)
	expectLine(t, out, "sent big about cart to hook:")
	mu.Lock()
	got := strings.Join(bodies, "|")
	mu.Unlock()
	if got != "cart has 2 replicas" {
		t.Errorf("the webhook received %q", got)
	}

	_, err := ramp(t, ns, "notifications", "trigger", "run", "on-nothing", "cart", "--config-namespace", cfgNS)
	expectError(t, err, `trigger "on-nothing" is not in ramp-notification-configmap`)
	_, err = ramp(t, ns, "notifications", "template", "notify", "big", "cart", "--recipient", "slack:x", "--config-namespace", cfgNS)
	expectError(t, err, `service "slack" is not in ramp-notification-configmap`)
	_, err = ramp(t, ns, "notifications", "template", "notify", "big", "cart", "--config-namespace", cfgNS)
	expectError(t, err, "--recipient SERVICE:RECIPIENT")
	_, err = ramp(t, ns, "notifications", "trigger", "run", "on-big", "cart", "--config-namespace", ns)
	expectError(t, err, "there is no ConfigMap ramp-notification-configmap in namespace "+ns)
}
