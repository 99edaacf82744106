package dashboard_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/dashboard"
	"github.com/rampdev/ramp/internal/prometheustest"
)

var (
	shared *cluster.Cluster
	admin  client.Client
	// promURL is a real Prometheus (the analysis page's test measures with
	// it).
	promURL string
)

// TestMain runs one cluster with ramp-controller (as its ServiceAccount)
// and a real Prometheus for every test.
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	clustertest.Main(m, app.Scheme(), nil, func(s clustertest.Shared) {
		shared, admin = s.Cluster, s.Admin
		opts := app.Options{SkipControllerNameValidation: true}
		err := clustertest.InstallRBAC(shared.Config())
		var mgr ctrl.Manager
		if err == nil {
			mgr, err = app.NewManager(clustertest.AsController(shared.Config()), opts)
		}
		if err == nil {
			err = app.Setup(mgr, opts)
		}
		var dir string
		if err == nil {
			dir, err = os.MkdirTemp("", "dashboard-prometheus-")
		}
		if err == nil {
			var prom *prometheustest.Server
			// Nothing to scrape: the test's queries compute their values.
			prom, err = prometheustest.Start(context.Background(), dir, "127.0.0.1:9")
			if prom != nil {
				promURL = prom.URL
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() { _ = mgr.Start(context.Background()) }()
	})
}

// serve runs a dashboard with opts (Config: the cluster's administrator
// unless set) until the test ends and returns its URL.
func serve(t testing.TB, opts dashboard.Options) string {
	t.Helper()
	if opts.Config == nil {
		opts.Config = shared.Config()
	}
	srv, err := dashboard.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}

// canary is a canary of two replicas that pauses at 25% and at 50% until
// promoted.
func canary(ns, name string) *v1alpha1.Rollout {
	labels := map[string]string{"app": name}
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetWeight: ptr.To(int32(25))}, {Pause: &v1alpha1.RolloutPause{}},
				{SetWeight: ptr.To(int32(50))}, {Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intstr.FromString("1h"))}},
			}}},
		},
	}
}

// create creates the rollouts and waits until each is Healthy.
func create(t *testing.T, ros ...*v1alpha1.Rollout) {
	t.Helper()
	for _, ro := range ros {
		if err := admin.Create(t.Context(), ro); err != nil {
			t.Fatal(err)
		}
	}
	for _, ro := range ros {
		waitRollout(t, ro.Namespace, ro.Name, "Healthy", func(r *v1alpha1.Rollout) bool { return r.Status.Phase == v1alpha1.RolloutPhaseHealthy })
	}
}

// setImage starts an update, as `ramp set image` would.
func setImage(t *testing.T, ns, name, image string) {
	t.Helper()
	ro := get(t, ns, name)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = image
	if err := admin.Patch(t.Context(), ro, patch); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, ns, name string) *v1alpha1.Rollout {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
		t.Fatal(err)
	}
	return ro
}

func waitRollout(t *testing.T, ns, name, what string, ok func(*v1alpha1.Rollout) bool) *v1alpha1.Rollout {
	t.Helper()
	var ro *v1alpha1.Rollout
	clustertest.Eventually(t, 90*time.Second, name+" "+what, func() (bool, string) {
		ro = get(t, ns, name)
		return ok(ro), fmt.Sprintf("phase %s step %v abort %v", ro.Status.Phase, ptr.Deref(ro.Status.CurrentStepIndex, -1), ro.Status.Abort)
	})
	return ro
}

// pausedAt waits for the canary's pause at step index idx.
func pausedAt(t *testing.T, ns, name string, idx int32) *v1alpha1.Rollout {
	t.Helper()
	return waitRollout(t, ns, name, fmt.Sprintf("paused at step %d", idx), func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && ptr.Deref(ro.Status.CurrentStepIndex, -1) == idx
	})
}

// chromium is Debian's chromium, which `make test` installs.
func chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: make test installs it (hack/install-deb.sh), or apt-get install chromium")
	return ""
}

// browser is a headless Chromium of the test's own (its own cookies),
// closed when the test ends.
func browser(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
	)
	// Chromium, started while the cluster is busy, now and then dies
	// before it answers (crashpad's "no stack mapping"): tried three times.
	var err error
	for range 3 {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		if err = chromedp.Do(ctx); err == nil { // the first run starts the browser: no deadline
			t.Cleanup(func() { cancel(); cancelAlloc() })
			return ctx
		}
		cancel()
		cancelAlloc()
	}
	t.Fatalf("starting chromium: %v", err)
	return nil
}

// run runs browser actions, with a deadline.
func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval is the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitPage waits until the JavaScript expression js is true in the page.
func waitPage(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	clustertest.Eventually(t, 60*time.Second, what, func() (bool, string) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool]("Boolean("+js+")"))
		if err != nil {
			return false, err.Error()
		}
		text, _ := chromedp.Run(c, chromedp.Evaluate[string](`document.getElementById("main") ? document.getElementById("main").innerText : document.body.innerText`))
		return ok, text
	})
}

// screenshot writes the page as a PNG into $RAMP_SCREENSHOTS (make
// screenshots: docs/images) or testdata/screenshots, for a reviewer.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("RAMP_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rowText is the list row of the rollout name, as the page shows it.
func rowText(name string) string {
	return fmt.Sprintf(`(document.querySelector('tr[data-name=%q]') || {innerText: ""}).innerText`, name)
}

// accessible fails on what a screen reader or a keyboard user could not
// use: a form control without a label, a button without a name, an image
// (SVG) without a text alternative, a page without its landmarks.
func accessible(t *testing.T, ctx context.Context) {
	t.Helper()
	problems := eval[[]string](t, ctx, `(() => {
		const out = [];
		document.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(el => {
			if (!el.labels || el.labels.length === 0) out.push("no label: " + el.outerHTML.slice(0, 80));
		});
		document.querySelectorAll("button").forEach(b => { if (!b.innerText.trim()) out.push("a button without a name"); });
		document.querySelectorAll("svg").forEach(s => {
			if (!s.getAttribute("aria-label") && !s.getAttribute("aria-labelledby")) out.push("an image without a text alternative");
		});
		if (!document.documentElement.lang) out.push("no lang");
		if (!document.querySelector("main") || !document.querySelector("h1")) out.push("no main or h1");
		return out;
	})()`)
	for _, p := range problems {
		t.Errorf("%s: %s", eval[string](t, ctx, "location.pathname"), p)
	}
}
