package dashboard_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cli"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/dashboard"
)

// rampCLI runs the ramp command against the shared cluster in ns.
func rampCLI(t *testing.T, ns string, args ...string) string {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	b, err := shared.Kubeconfig()
	if err == nil {
		err = os.WriteFile(kc, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &out})
	cmd.SetArgs(append([]string{"--kubeconfig", kc, "-n", ns}, args...))
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("ramp %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// 1. The list shows the rollouts with their status; a canary updated from
// the CLI shows its new state without a reload, and its rollout page's step
// timeline advances as it is promoted.
func TestListAndTimelineFollowTheCluster(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	create(t, canary(ns, "web"), canary(ns, "api"))
	base := serve(t, dashboard.Options{Namespace: ns})
	b := browser(t)

	run(t, b, chromedp.Navigate(base+"/"))
	waitPage(t, b, "both rollouts listed Healthy", rowText("web")+`.includes("Healthy") && `+rowText("api")+`.includes("Healthy")`)
	waitPage(t, b, "the page's stream open", `document.body.dataset.live === "open"`)
	eval[bool](t, b, `window.sameDocument = true`)
	screenshot(t, b, "dashboard-list.png")
	accessible(t, b)

	rampCLI(t, ns, "set", "image", "web", "app=example/app:2")
	waitPage(t, b, "web shown paused at step 1/4, without a reload",
		`window.sameDocument === true && `+rowText("web")+`.includes("Paused") && `+rowText("web")+`.includes("1/4") && `+rowText("api")+`.includes("Healthy")`)
	if n := eval[string](t, b, `document.body.dataset.updates`); n == "" || n == "0" {
		t.Errorf("the list was not updated by its stream (updates %q)", n)
	}
	// The search box filters the rows.
	run(t, b, chromedp.SendKeys(chromedp.ID("search"), "api"))
	if hidden := eval[bool](t, b, `document.querySelector('tr[data-name="web"]').hidden && !document.querySelector('tr[data-name="api"]').hidden`); !hidden {
		t.Error("searching for api still shows web")
	}

	run(t, b, chromedp.Navigate(base+"/rollouts/"+ns+"/web"))
	waitPage(t, b, "the timeline marks step 1 (the pause) current, as the header numbers it", `document.querySelector('li[aria-current="step"] .n').innerText === "1" && document.getElementById("rollout-step").innerText === "1/4"`)
	waitPage(t, b, "the page's stream open", `document.body.dataset.live === "open"`)
	eval[bool](t, b, `window.sameDocument = true`)
	for _, want := range []string{"Paused", "Set weight 25%", "Pause until promoted", "example/app:2", "example/app:1", "Revision 2", "canary", "stable"} {
		if text := eval[string](t, b, `document.getElementById("main").innerText`); !strings.Contains(text, want) {
			t.Errorf("the rollout page lacks %q:\n%s", want, text)
		}
	}
	screenshot(t, b, "dashboard-rollout.png")
	accessible(t, b)
	rampCLI(t, ns, "promote", "web")
	waitPage(t, b, "the timeline advanced to step 3 (the timed pause), without a reload",
		`window.sameDocument === true && document.querySelector('li[aria-current="step"] .n').innerText === "3" && document.getElementById("rollout-step").innerText === "3/4"`)
}

// 2. Promote on a paused canary promotes it; Abort on another aborts it.
func TestPromoteAndAbortButtons(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	create(t, canary(ns, "a"), canary(ns, "b"))
	setImage(t, ns, "a", "example/app:2")
	setImage(t, ns, "b", "example/app:2")
	pausedAt(t, ns, "a", 1)
	pausedAt(t, ns, "b", 1)
	base := serve(t, dashboard.Options{Namespace: ns})
	br := browser(t)

	run(t, br, chromedp.Navigate(base+"/rollouts/"+ns+"/a"),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/promote"] button`)),
		chromedp.Click(chromedp.CSS(`form[action$="/promote"] button`)))
	waitPage(t, br, "the page says what promote did", `document.getElementById("flash").innerText.includes('rollout "a" promoted: the pause ends')`)
	pausedAt(t, ns, "a", 3)

	run(t, br, chromedp.Navigate(base+"/rollouts/"+ns+"/b"),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/abort"] button`)),
		chromedp.Click(chromedp.CSS(`form[action$="/abort"] button`)))
	waitPage(t, br, "the page says what abort did", `document.getElementById("flash").innerText.includes('rollout "b" aborted')`)
	waitRollout(t, ns, "b", "aborted, Degraded", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Abort && ro.Status.Phase == v1alpha1.RolloutPhaseDegraded
	})
	waitPage(t, br, "the page shows it Degraded", `document.getElementById("rollout-status").innerText === "Degraded"`)

	// A second Abort, on the state the page showed before it changed, is
	// refused with the CLI's words.
	run(t, br, chromedp.Click(chromedp.CSS(`form[action$="/abort"] button`)))
	waitPage(t, br, "a second abort refused", `document.getElementById("flash").innerText.includes("already aborted") || document.getElementById("flash").innerText.includes("moved on")`)

	// From the keyboard: Retry, focused and pressed with Enter.
	run(t, br, chromedp.Navigate(base+"/rollouts/"+ns+"/b"),
		chromedp.Focus(chromedp.CSS(`form[action$="/retry"] button`)),
		chromedp.KeyEvent(kb.Enter))
	waitPage(t, br, "the page says what retry did", `document.getElementById("flash").innerText.includes('rollout "b" retried')`)
	waitRollout(t, ns, "b", "retried", func(ro *v1alpha1.Rollout) bool { return !ro.Status.Abort })
}

// 3. RBAC decides: a viewer who may only read rollouts sees them and gets
// "not allowed" on Promote, the rollout unchanged; a namespace they have
// no rights in shows nothing; without credentials the server refuses.
func TestViewersActWithTheirOwnRights(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	other := clustertest.Namespace(t, admin)
	create(t, canary(ns, "web"))
	if err := admin.Create(t.Context(), canary(other, "hidden")); err != nil {
		t.Fatal(err)
	}
	setImage(t, ns, "web", "example/app:2")
	before := pausedAt(t, ns, "web", 1)
	token := readerToken(t, ns, "reader")
	base := serve(t, dashboard.Options{Identity: dashboard.Token, Namespace: ns, Config: shared.Config()})

	// No credentials: refused, never served with the server's rights.
	resp, body := httpGet(t, base+"/rollouts/"+ns, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Sign in") || strings.Contains(body, `data-name="web"`) {
		t.Errorf("without credentials: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := httpPostAction(t, base, ns, "web", "promote", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an action without credentials: %d %s", resp.StatusCode, body)
	}

	br := browser(t)
	run(t, br, chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), token),
		chromedp.Submit(chromedp.ID("token")))
	waitPage(t, br, "the reader sees web", rowText("web")+`.includes("Paused")`)
	run(t, br, chromedp.Navigate(base+"/rollouts/"+ns+"/web"),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/promote"] button`)),
		chromedp.Click(chromedp.CSS(`form[action$="/promote"] button`)))
	waitPage(t, br, "promote refused as not allowed", `document.getElementById("flash").innerText.includes("Not allowed")`)
	after := get(t, ns, "web")
	if after.Generation != before.Generation || ptr.Deref(after.Status.CurrentStepIndex, -1) != 1 || len(after.Status.PauseConditions) == 0 || after.Spec.Paused != before.Spec.Paused {
		t.Errorf("the reader's promote changed the rollout: step %v pauses %v", ptr.Deref(after.Status.CurrentStepIndex, -1), after.Status.PauseConditions)
	}

	run(t, br, chromedp.Navigate(base+"/rollouts/"+other))
	waitPage(t, br, "a namespace without rights shows nothing of it", `document.getElementById("main").innerText.includes("not allowed to list rollouts in namespace")`)
	if text := eval[string](t, br, `document.body.innerText`); strings.Contains(text, "hidden") {
		t.Errorf("the page shows the other namespace's rollout:\n%s", text)
	}
	run(t, br, chromedp.Navigate(base+"/rollouts/"+other+"/hidden"))
	if text := eval[string](t, br, `document.body.innerText`); !strings.Contains(text, "not allowed to read rollout") {
		t.Errorf("another namespace's rollout page:\n%s", text)
	}

	// Behind an authenticating proxy: the named user, impersonated.
	proxied := serve(t, dashboard.Options{Identity: dashboard.Proxy, Namespace: ns, Config: shared.Config()})
	if resp, _ := httpGet(t, proxied+"/rollouts/"+ns, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no user named by the proxy: %d", resp.StatusCode)
	}
	alice := http.Header{"X-Forwarded-User": {"alice"}}
	if resp, body := httpGet(t, proxied+"/rollouts/"+ns, alice); resp.StatusCode != http.StatusForbidden || strings.Contains(body, `data-name="web"`) {
		t.Errorf("alice, without rights: %d\n%s", resp.StatusCode, body)
	}
	bind(t, ns, "rollout-reader", rbacv1.Subject{Kind: rbacv1.UserKind, Name: "alice"})
	// RBAC answers from its informers: the binding counts a moment later.
	clustertest.Eventually(t, 30*time.Second, "alice, a reader, sees web", func() (bool, string) {
		resp, body := httpGet(t, proxied+"/rollouts/"+ns, alice)
		return resp.StatusCode == http.StatusOK && strings.Contains(body, `data-name="web"`), fmt.Sprintf("%d %s", resp.StatusCode, body)
	})
}

// 4. The analysis page plots a run's measurements, taken from a real
// Prometheus, against its conditions, as they arrive.
func TestAnalysisPagePlotsMeasurements(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	run4 := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "latency"},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{
			Name: "seconds", Interval: "1s", Count: ptr.To(intstr.FromInt32(4)),
			SuccessCondition: "result[0] >= 0", FailureCondition: "result[0] > 10",
			Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Address: promURL, Query: "vector(time() % 5)"}},
		}}},
	}
	if err := admin.Create(t.Context(), run4); err != nil {
		t.Fatal(err)
	}
	base := serve(t, dashboard.Options{Namespace: ns})
	br := browser(t)
	run(t, br, chromedp.Navigate(base+"/analysisruns/"+ns+"/latency"))
	waitPage(t, br, "four measurements plotted", `document.querySelectorAll("svg.plot circle.point").length === 4`)
	waitPage(t, br, "the run shown Successful", `document.querySelector("h1").innerText.includes("Successful")`)
	got := &v1alpha1.AnalysisRun{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "latency"}, got); err != nil {
		t.Fatal(err)
	}
	values := eval[[]string](t, br, `Array.from(document.querySelectorAll("svg.plot circle.point")).map(c => c.dataset.value)`)
	var want []string
	for _, m := range got.Status.MetricResults[0].Measurements {
		want = append(want, m.Value)
	}
	if fmt.Sprint(values) != fmt.Sprint(want) {
		t.Errorf("plotted %v, measured %v", values, want)
	}
	if n := eval[int](t, br, `document.querySelectorAll("svg.plot line.threshold.success, svg.plot line.threshold.failure").length`); n != 2 {
		t.Errorf("%d threshold lines, want the success and the failure condition's", n)
	}
	screenshot(t, br, "dashboard-analysis.png")
	accessible(t, br)
}

// readerToken is a token of a new ServiceAccount that may only get, list
// and watch rollouts in ns.
func readerToken(t *testing.T, ns, name string) string {
	t.Helper()
	return saToken(t, ns, name, "rollout-reader", true)
}

// saToken is a token of a new ServiceAccount bound to the Role role
// (created as the rollout reader when reader is set).
func saToken(t *testing.T, ns, name, role string, reader bool) string {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(shared.Config())
	ctx := t.Context()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
	if reader {
		bind(t, ns, role, subject)
	} else {
		bindTo(t, ns, role, subject)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// bind gives subject get, list and watch on rollouts in ns.
func bind(t *testing.T, ns, role string, subject rbacv1.Subject) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(shared.Config())
	ctx := t.Context()
	_, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: role},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"rollouts"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	bindTo(t, ns, role, subject)
}

// bindTo binds the Role role in ns to subject.
func bindTo(t *testing.T, ns, role string, subject rbacv1.Subject) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(shared.Config())
	if _, err := cs.RbacV1().RoleBindings(ns).Create(t.Context(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: role + "-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   []rbacv1.Subject{subject},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func httpGet(t *testing.T, u string, h http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return do(t, req)
}

// httpPostAction posts an action as the page's script does, with a CSRF
// token pair and the state token given.
func httpPostAction(t *testing.T, base, ns, name, action, state string) (*http.Response, string) {
	t.Helper()
	return httpPost(t, base, ns, name, action, url.Values{"state": {state}}, nil)
}

// httpPost posts an action's form with the headers h.
func httpPost(t *testing.T, base, ns, name, action string, form url.Values, h http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/rollouts/"+ns+"/"+name+"/"+action, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	const csrf = "0123456789abcdef0123456789abcdef0123456789abcdef"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "ramp_csrf", Value: csrf})
	req.Header.Set("X-CSRF-Token", csrf)
	return do(t, req)
}
