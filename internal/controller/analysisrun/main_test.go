package analysisrun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis/cloudwatch/cloudwatchtest"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting/memory"
)

var (
	cl      client.Client
	shared  *cluster.Cluster
	routers = &memory.Factory{}
	// writes counts the controller's API writes per namespace.
	writes = &cluster.WriteCounter{}
	// cw is the CloudWatch the controller's cloudWatch metrics reach.
	cw *cloudwatchtest.Server
)

// TestMain runs one cluster and one controller (with its built-in
// providers) for the package; each test works in its own namespace.
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	var err error
	shared, err = cluster.Start(context.Background(), cluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the cluster:", err)
		os.Exit(1)
	}
	if err := clustertest.InstallRBAC(shared.Config()); err != nil {
		fmt.Fprintln(os.Stderr, "installing the controller's roles:", err)
		os.Exit(1)
	}
	cw = cloudwatchtest.New()
	opts := app.Options{SkipControllerNameValidation: true, Routers: routers, AWS: app.AWSOptions{CloudWatch: cw.Config}}
	cfg := clustertest.AsController(shared.Config())
	cfg.Wrap(writes.Wrap)
	mgr, err := app.NewManager(cfg, opts)
	if err == nil {
		err = app.Setup(mgr, opts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the controller:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	cl, err = client.New(shared.Config(), client.Options{Scheme: app.Scheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	promStop()
	cancel()
	cw.Close()
	<-done
	shared.Stop()
	os.Exit(code)
}

type env struct {
	t   testing.TB
	ctx context.Context
	ns  string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ns := clustertest.Namespace(t, cl)
	return &env{t: t, ctx: t.Context(), ns: ns}
}

func (e *env) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	clustertest.Eventually(e.t, timeout, what, cond)
}

// create creates a run of the metrics.
func (e *env) create(name string, spec v1alpha1.AnalysisRunSpec) *v1alpha1.AnalysisRun {
	e.t.Helper()
	run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: spec}
	if err := cl.Create(e.ctx, run); err != nil {
		e.t.Fatal(err)
	}
	return run
}

func (e *env) get(name string) *v1alpha1.AnalysisRun {
	e.t.Helper()
	run := &v1alpha1.AnalysisRun{}
	if err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, run); err != nil {
		e.t.Fatal(err)
	}
	return run
}

// waitPhase waits for the run's phase and returns the run.
func (e *env) waitPhase(name string, phase v1alpha1.AnalysisPhase) *v1alpha1.AnalysisRun {
	e.t.Helper()
	var run *v1alpha1.AnalysisRun
	e.eventually(30*time.Second, name+" "+string(phase), func() (bool, string) {
		run = e.get(name)
		return run.Status.Phase == phase, fmt.Sprintf("%s: %s", run.Status.Phase, run.Status.Message)
	})
	return run
}

// endpoint is a local HTTP server whose answer the test sets.
type endpoint struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   string
	calls  int
	check  func(*http.Request) string
}

func newEndpoint(t testing.TB, body string) *endpoint {
	ep := &endpoint{status: http.StatusOK, body: body}
	ep.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep.mu.Lock()
		defer ep.mu.Unlock()
		ep.calls++
		if ep.check != nil {
			if why := ep.check(r); why != "" {
				http.Error(w, why, http.StatusForbidden)
				return
			}
		}
		w.WriteHeader(ep.status)
		fmt.Fprint(w, ep.body)
	}))
	t.Cleanup(ep.Close)
	return ep
}

// called is how many requests the endpoint answered.
func (ep *endpoint) called() int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.calls
}

func (ep *endpoint) answer(status int, body string) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.status, ep.body = status, body
}

func webMetric(name, url string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: name, Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: url}}}
}

func statusJSON(run *v1alpha1.AnalysisRun) string {
	b, _ := json.Marshal(run.Status)
	return string(b)
}

func inNamespace(ns string) client.InNamespace { return client.InNamespace(ns) }
