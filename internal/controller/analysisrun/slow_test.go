package analysisrun_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/prometheus"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/controller/analysisrun"
)

// heldPrometheus is a real Prometheus behind a proxy that holds every query
// carrying the comment "# slow" until release is called: a KPI source that
// answers one kind of query after any delay the test likes.
func heldPrometheus(t *testing.T) (address string, held func() int, release func()) {
	target, err := url.Parse(realPrometheus(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	gate := make(chan struct{})
	var mu sync.Mutex
	waiting := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The query is in the URL or in a form body, which is read here
		// and handed on to Prometheus as it came.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if strings.Contains(r.URL.Query().Get("query")+form.Get("query"), "# slow") {
			mu.Lock()
			waiting++
			mu.Unlock()
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(func() { release(); srv.Close() })
	return srv.URL, func() int { mu.Lock(); defer mu.Unlock(); return waiting }, release
}

// Runs whose Prometheus queries hang do not hold up the others, even with
// fewer workers than hanging runs: the calls go on off the workers, and
// each run is judged when its own answer comes.
func TestSlowProviderDoesNotDelayOtherRuns(t *testing.T) {
	e := newEnv(t)
	address, held, release := heldPrometheus(t)
	const instance = "slow-provider"
	opts := app.Options{InstanceID: instance, SkipControllerNameValidation: true, WithoutAnalysisRuns: true}
	mgr, err := app.NewManager(clustertest.AsController(shared.Config()), opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &analysisrun.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: clock.RealClock{},
		Providers: analysis.NewRegistry(prometheus.Provider{}), InstanceID: instance, Workers: 2,
		MeasureWait: 200 * time.Millisecond, SkipNameValidation: true}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	clustertest.RunManager(t, mgr)

	spec := func(query string) v1alpha1.AnalysisRunSpec {
		return v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{
			Name: "rate", SuccessCondition: "result[0] > 0",
			Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
				Address: address, Query: query, Timeout: ptr.To[int64](120),
			}},
		}}}
	}
	create := func(name string, s v1alpha1.AnalysisRunSpec) {
		run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns,
			Labels: map[string]string{v1alpha1.InstanceIDLabelKey: instance}}, Spec: s}
		if err := cl.Create(e.ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	const slow, fast = 3, 100
	for i := range slow {
		create(fmt.Sprintf("slow-%d", i), spec("sum(rate(http_requests_total[10s])) # slow"))
	}
	create("gone", spec("sum(rate(http_requests_total[10s])) # slow"))
	e.eventually(30*time.Second, "the slow queries held", func() (bool, string) {
		return held() == slow+1, fmt.Sprint(held(), " held")
	})
	// A run deleted while its call is under way is forgotten.
	if err := cl.Delete(e.ctx, &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: e.ns}}); err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, "the deleted run's call forgotten", func() (bool, string) {
		return r.Pending() == slow, fmt.Sprint(r.Pending(), " kept")
	})
	for i := range fast {
		create(fmt.Sprintf("fast-%03d", i), spec("sum(rate(http_requests_total[10s]))"))
	}
	for i := range fast {
		e.waitPhase(fmt.Sprintf("fast-%03d", i), v1alpha1.AnalysisPhaseSuccessful)
	}
	for i := range slow {
		if got := e.get(fmt.Sprintf("slow-%d", i)); got.Status.Phase != v1alpha1.AnalysisPhaseRunning || len(got.Status.MetricResults) > 0 && len(got.Status.MetricResults[0].Measurements) > 0 {
			t.Fatalf("slow-%d while its query is held: %s", i, statusJSON(got))
		}
	}
	release()
	for i := range slow {
		run := e.waitPhase(fmt.Sprintf("slow-%d", i), v1alpha1.AnalysisPhaseSuccessful)
		if m := run.Status.MetricResults[0].Measurements; len(m) != 1 || !m[0].StartedAt.Before(m[0].FinishedAt) {
			t.Errorf("slow-%d: measurements %+v; want one, started when the query was sent", i, m)
		}
	}
	// Every call is accounted for: none is kept once its run is judged.
	e.eventually(10*time.Second, "no provider call kept", func() (bool, string) {
		return r.Pending() == 0, fmt.Sprint(r.Pending(), " kept")
	})
}
