package notify_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/notify"
)

// inbox is a local server standing for a notification service: it keeps
// what it receives.
type inbox struct {
	*httptest.Server
	mu       sync.Mutex
	received []string
	// failures is how many requests to answer 500 before answering.
	failures, failed int
	// hold, when set, holds the first request until it is closed; waiting
	// says one is held.
	hold    chan struct{}
	waiting bool
}

func newInbox(t *testing.T, answer string, keep func(r *http.Request, body string) string) *inbox {
	in := &inbox{}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		if hold := in.hold; hold != nil {
			in.hold, in.waiting = nil, true
			in.mu.Unlock()
			<-hold
			in.mu.Lock()
			in.waiting = false
		}
		if in.failures > 0 {
			in.failures--
			in.failed++
			in.mu.Unlock()
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		in.received = append(in.received, keep(r, string(b)))
		in.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, answer)
	}))
	t.Cleanup(in.Close)
	return in
}

func (in *inbox) messages() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.received)
}

// count is how many messages contain s.
func (in *inbox) count(s string) int {
	n := 0
	for _, m := range in.messages() {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// A canary that completes and one that aborts, with the controller
// restarted while the first is paused: a local webhook and a local Slack
// API receive exactly one message per trigger and occasion, rendered from
// the shipped templates (rollout name, revision, message).
func TestNotificationsOfACanary(t *testing.T) {
	ctx := t.Context()
	slack := newInbox(t, slackAnswer, slackKeep)
	hook := newInbox(t, `{}`, hookKeep)
	admin, start := startEnv(t, slack, hook, nil, app.Options{})
	stop := start()
	defer func() { stop() }()

	triggers := []string{"on-rollout-updated", "on-rollout-step-completed", "on-rollout-paused", "on-rollout-completed", "on-rollout-aborted"}
	annotations := map[string]string{}
	for _, tr := range triggers {
		annotations["notifications.ramp.dev/subscribe."+tr+".slack"] = "deploys"
		// Argo's prefix works too.
		annotations["notifications.argoproj.io/subscribe."+tr+".hook"] = ""
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop", Annotations: annotations},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "shop"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/shop:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetWeight: ptr.To[int32](50)}, {Pause: &v1alpha1.RolloutPause{}},
			}}},
		},
	}
	if err := admin.Create(ctx, ro); err != nil {
		t.Fatal(err)
	}
	get := func() *v1alpha1.Rollout {
		t.Helper()
		got := &v1alpha1.Rollout{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(ro), got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	phase := func(want v1alpha1.RolloutPhase) *v1alpha1.Rollout {
		t.Helper()
		var got *v1alpha1.Rollout
		clustertest.Eventually(t, time.Minute, "shop "+string(want), func() (bool, string) {
			got = get()
			return got.Status.Phase == want && got.Status.ObservedGeneration == fmt.Sprint(got.Generation), string(got.Status.Phase) + ": " + got.Status.Message
		})
		return got
	}
	setImage := func(image string) {
		t.Helper()
		cur := get()
		patch := client.MergeFrom(cur.DeepCopy())
		cur.Spec.Template.Spec.Containers[0].Image = image
		if err := admin.Patch(ctx, cur, patch); err != nil {
			t.Fatal(err)
		}
	}
	// received waits until both services got want messages of template.
	received := func(template string, want int) {
		t.Helper()
		clustertest.Eventually(t, 30*time.Second, fmt.Sprintf("%d %s messages", want, template), func() (bool, string) {
			h, s := hook.count("POST "+template+" shop "), slack.count(slackText[template])
			return h >= want && s >= want, fmt.Sprintf("webhook %d, slack %d: %q %q", h, s, hook.messages(), slack.messages())
		})
	}

	healthy := phase(v1alpha1.RolloutPhaseHealthy)
	received("rollout-completed", 1)

	// A new version: updated, step 1 completed, paused at step 2.
	setImage("example/shop:2")
	paused := phase(v1alpha1.RolloutPhasePaused)
	received("rollout-paused", 1)
	if paused.Status.CurrentPodHash == healthy.Status.CurrentPodHash {
		t.Fatal("the pod-template hash did not change")
	}

	// The controller restarts while the rollout is paused: nothing is
	// sent again.
	stop()
	stop = start()
	if err := admin.Get(ctx, client.ObjectKeyFromObject(ro), paused); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(paused.DeepCopy())
	paused.Status.PauseConditions = nil
	if err := admin.Status().Patch(ctx, paused, patch); err != nil {
		t.Fatal(err)
	}
	phase(v1alpha1.RolloutPhaseHealthy)
	received("rollout-completed", 2)

	// A third version, aborted at its pause.
	setImage("example/shop:3")
	third := phase(v1alpha1.RolloutPhasePaused)
	received("rollout-paused", 2)
	patch = client.MergeFrom(third.DeepCopy())
	third.Status.Abort = true
	if err := admin.Status().Patch(ctx, third, patch); err != nil {
		t.Fatal(err)
	}
	phase(v1alpha1.RolloutPhaseDegraded)
	received("rollout-aborted", 1)

	// Exactly one message per trigger and occasion, on both services, in
	// the end: revisions 2 and 3 updated (the first deploy is no update);
	// steps 1 and 2 of revision 2
	// and step 1 of revision 3 completed; two pauses; two completions; one
	// abort.
	want := map[string]int{"rollout-updated": 2, "rollout-step-completed": 3, "rollout-paused": 2, "rollout-completed": 2, "rollout-aborted": 1}
	clustertest.Eventually(t, 30*time.Second, "every message delivered", func() (bool, string) {
		total := 0
		for _, n := range want {
			total += n
		}
		return len(hook.messages()) >= total && len(slack.messages()) >= total, fmt.Sprintf("%d webhook, %d slack messages", len(hook.messages()), len(slack.messages()))
	})
	if os.Getenv("NOTIFY_DEBUG") != "" {
		var evs eventsv1.EventList
		_ = admin.List(ctx, &evs, client.InNamespace("default"))
		for _, e := range evs.Items {
			t.Log(e.Reason, e.Note, e.DeprecatedCount, e.Series)
		}
	}
	for template, n := range want {
		if got := hook.count("POST " + template + " shop "); got != n {
			t.Errorf("webhook: %d %s messages, want %d:\n%s", got, template, n, strings.Join(sorted(hook.messages()), "\n"))
		}
		if got := slack.count(slackText[template]); got != n {
			t.Errorf("slack: %d %q messages, want %d:\n%s", got, slackText[template], n, strings.Join(sorted(slack.messages()), "\n"))
		}
	}
	// Rendered: the revision in the webhook's body, the channel, the text
	// and the image in Slack's attachment.
	if hook.count("rollout-aborted shop revision="+third.Status.CurrentPodHash) != 1 {
		t.Errorf("no abort message naming revision %s: %q", third.Status.CurrentPodHash, hook.messages())
	}
	if slack.count("deploys Rollout shop has been aborted.") != 1 || slack.count(`example/shop:3`) == 0 {
		t.Errorf("slack: %q", slack.messages())
	}
	for _, m := range slack.messages() {
		if strings.HasPrefix(m, "refused") {
			t.Errorf("slack was called wrongly: %s", m)
		}
	}
	// The deliveries are recorded on the rollout: ten messages to two
	// services.
	clustertest.Eventually(t, 30*time.Second, "every delivery recorded", func() (bool, string) {
		rec := get().Annotations[notify.NotifiedAnnotation]
		return strings.Count(rec, "on-rollout-") == 2*10, notify.NotifiedAnnotation + ": " + rec
	})
}

// A service that hangs does not hold the release (the rollout is Healthy
// while the service holds the first attempt), and a service that fails is
// retried with backoff until it answers: the message is delivered once.
func TestFailingServiceIsRetried(t *testing.T) {
	ctx := t.Context()
	slack := newInbox(t, slackAnswer, slackKeep)
	hook := newInbox(t, `{}`, hookKeep)
	hold := make(chan struct{})
	hook.hold = hold
	hook.failures = 3 // the held attempt is the first failure
	admin, start := startEnv(t, slack, hook, func(cm *corev1.ConfigMap) {
		// One request per attempt: the engine's own retries off.
		cm.Data["service.webhook.hook"] += "retryMax: 0\n"
	}, app.Options{})
	stop := start()
	defer stop()
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cart", Annotations: map[string]string{
			"notifications.ramp.dev/subscribe.on-rollout-completed.hook": "",
		}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cart"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/cart:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}},
		},
	}
	if err := admin.Create(ctx, ro); err != nil {
		t.Fatal(err)
	}
	// The first attempt is held by the service, the release is not.
	clustertest.Eventually(t, 30*time.Second, "cart Healthy while the webhook holds the first attempt", func() (bool, string) {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(ro), ro); err != nil {
			t.Fatal(err)
		}
		hook.mu.Lock()
		defer hook.mu.Unlock()
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && hook.waiting, fmt.Sprintf("%s, held: %v", ro.Status.Phase, hook.waiting)
	})
	close(hold)
	clustertest.Eventually(t, 30*time.Second, "the message delivered after three failures", func() (bool, string) {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		return len(hook.received) == 1 && hook.failed == 3, fmt.Sprintf("%d failed, %q", hook.failed, hook.received)
	})
	clustertest.Eventually(t, 10*time.Second, "the delivery recorded", func() (bool, string) {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(ro), ro); err != nil {
			t.Fatal(err)
		}
		rec := ro.Annotations[notify.NotifiedAnnotation]
		return strings.Count(rec, "on-rollout-completed") == 1, rec
	})
	if got := hook.messages(); len(got) != 1 || !strings.HasPrefix(got[0], "POST rollout-completed cart ") {
		t.Errorf("webhook: %q", got)
	}
}

// With --self-service-notification-enabled, a team's own configuration in
// its namespace is read too, each on its own: the team's webhook and the
// controller's both hear of the completion, once.
func TestSelfServiceNotifications(t *testing.T) {
	ctx := t.Context()
	slack := newInbox(t, slackAnswer, slackKeep)
	hook := newInbox(t, `{}`, hookKeep)
	admin, start := startEnv(t, slack, hook, nil, app.Options{SelfServiceNotifications: true})
	team := newInbox(t, `{}`, hookKeep)
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	own := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: notify.ConfigMapName}, Data: map[string]string{
		"service.webhook.team":         fmt.Sprintf("url: %s\n", team.URL),
		"trigger.on-rollout-completed": "- send: [done]\n",
		"template.done":                "webhook:\n  team:\n    method: POST\n    body: 'team-a: {{.rollout.metadata.name}} is done'\n",
	}}
	if err := admin.Create(ctx, own); err != nil {
		t.Fatal(err)
	}
	stop := start()
	defer stop()
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "cart", Annotations: map[string]string{
			"notifications.ramp.dev/subscribe.on-rollout-completed.team": "",
			"notifications.ramp.dev/subscribe.on-rollout-completed.hook": "",
		}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cart"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/cart:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}},
		},
	}
	if err := admin.Create(ctx, ro); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, time.Minute, "both configurations delivered", func() (bool, string) {
		return len(team.messages()) == 1 && len(hook.messages()) == 1, fmt.Sprintf("team %q, controller %q", team.messages(), hook.messages())
	})
	if got := team.messages()[0]; got != "POST team-a: cart is done" {
		t.Errorf("team webhook: %q", got)
	}
	if got := hook.messages()[0]; !strings.HasPrefix(got, "POST rollout-completed cart ") {
		t.Errorf("controller webhook: %q", got)
	}
	clustertest.Eventually(t, 10*time.Second, "both recorded", func() (bool, string) {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(ro), ro); err != nil {
			t.Fatal(err)
		}
		rec := ro.Annotations[notify.NotifiedAnnotation]
		return strings.Count(rec, "on-rollout-completed") == 2 && strings.Contains(rec, `"team-a/`), rec
	})
}

var slackText = map[string]string{
	"rollout-updated":        "Rollout shop has been updated.",
	"rollout-step-completed": "Rollout shop step number",
	"rollout-paused":         "Rollout shop has been paused.",
	"rollout-completed":      "Rollout shop has been completed.",
	"rollout-aborted":        "Rollout shop has been aborted.",
}

func sorted(s []string) []string { sort.Strings(s); return s }

const slackAnswer = `{"ok": true, "channel": "C1", "ts": "1.1"}`

// slackKeep keeps what Slack's Web API (chat.postMessage, form-encoded,
// with the token) receives: channel, text and attachments.
func slackKeep(r *http.Request, body string) string {
	form, _ := url.ParseQuery(body)
	// The token comes as a bearer header or a form field (both are
	// Slack's Web API).
	if r.URL.Path != "/api/chat.postMessage" || (r.Header.Get("Authorization") != "Bearer xoxb-test" && form.Get("token") != "xoxb-test") {
		return "refused " + r.URL.Path + " " + r.Header.Get("Authorization") + " " + body
	}
	return form.Get("channel") + " " + form.Get("text") + " " + form.Get("attachments")
}

func hookKeep(r *http.Request, body string) string { return r.Method + " " + body }

// startEnv starts a cluster with the controller's roles and the shipped
// notification configuration, with services slack and webhook "hook" on
// the given servers (and configure's changes); start runs a controller as
// its ServiceAccount and returns how to stop it.
func startEnv(t *testing.T, slack, hook *inbox, configure func(cm *corev1.ConfigMap), opts app.Options) (client.Client, func() func()) {
	t.Helper()
	if os.Getenv("NOTIFY_DEBUG") != "" {
		ctrl.SetLogger(funcr.New(func(prefix, args string) {
			if strings.Contains(prefix, "notif") {
				t.Log(prefix, args)
			}
		}, funcr.Options{}))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	ctx := t.Context()
	c, err := cluster.Start(ctx, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	if err := clustertest.InstallRBAC(c.Config()); err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(c.Config(), client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}

	cm := &corev1.ConfigMap{}
	b, err := os.ReadFile("../../config/notifications/ramp-notification-configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["service.slack"] = fmt.Sprintf("token: $slack-token\napiURL: %s/api/\n", slack.URL)
	cm.Data["service.webhook.hook"] = fmt.Sprintf("url: %s\n", hook.URL)
	for key := range cm.Data {
		if name, ok := strings.CutPrefix(key, "template."); ok {
			cm.Data[key] += fmt.Sprintf("webhook:\n  hook:\n    method: POST\n    body: |\n      %s {{.rollout.metadata.name}} revision={{.rollout.status.currentPodHash}}\n", name)
		}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ramp-system", Name: notify.SecretName}, StringData: map[string]string{"slack-token": "xoxb-test"}}
	if configure != nil {
		configure(cm)
	}
	for _, obj := range []client.Object{cm, secret} {
		if err := admin.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	start := func() func() {
		opts.SkipControllerNameValidation = true
		mgr, err := app.NewManager(clustertest.AsController(c.Config()), opts)
		if err == nil {
			err = app.Setup(mgr, opts)
		}
		if err != nil {
			t.Fatal(err)
		}
		mctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- mgr.Start(mctx) }()
		return func() { cancel(); <-done }
	}
	return admin, start

}
