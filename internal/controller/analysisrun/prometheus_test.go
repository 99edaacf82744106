package analysisrun_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/prometheustest"
)

var (
	promOnce sync.Once
	promURL  string
	promErr  error
	// promStop stops the server and its exporter; TestMain calls it.
	promStop = func() {}
	// series adds lines to the exporter's answer, per test: the
	// experiment test exports counters per pod-template hash.
	seriesMu sync.Mutex
	series   = map[string]func() string{}
)

// addSeries has the exporter also answer with what lines returns, until
// the test ends.
func addSeries(t *testing.T, lines func() string) {
	seriesMu.Lock()
	series[t.Name()] = lines
	seriesMu.Unlock()
	t.Cleanup(func() {
		seriesMu.Lock()
		delete(series, t.Name())
		seriesMu.Unlock()
	})
}

// realPrometheus starts (once for the package) a real Prometheus scraping an
// exporter whose request counters grow by 9 successes and 1 error at every
// scrape: an error ratio of exactly 0.1.
func realPrometheus(t *testing.T) string {
	t.Helper()
	promOnce.Do(func() {
		var mu sync.Mutex
		ok, failed := 0, 0
		exp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			ok, failed = ok+9, failed+1
			o, f := ok, failed
			mu.Unlock()
			fmt.Fprintf(w, "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} %d\nhttp_requests_total{code=\"500\"} %d\n", o, f)
			seriesMu.Lock()
			for _, lines := range series {
				fmt.Fprint(w, lines())
			}
			seriesMu.Unlock()
		}))
		dir, err := os.MkdirTemp("", "prometheus-")
		if err != nil {
			promErr = err
			return
		}
		srv, err := prometheustest.Start(context.Background(), dir, strings.TrimPrefix(exp.URL, "http://"))
		if err != nil {
			promErr = err
			return
		}
		promURL = srv.URL
		promStop = func() { srv.Stop(); exp.Close(); os.RemoveAll(dir) }
		// Wait for two scrapes, so that rate() has data.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := http.Get(srv.URL + "/api/v1/query?query=" + url.QueryEscape(`sum(rate(http_requests_total[10s]))`))
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(body), `"value"`) {
					return
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		promErr = fmt.Errorf("prometheus has no data after 30s")
	})
	if promErr != nil {
		t.Fatal(promErr)
	}
	return promURL
}

// A blue/green release whose pre-promotion analysis queries a real
// Prometheus for the error ratio (0.1, over its 0.05 limit) is aborted.
func TestBlueGreenAbortedByARealPrometheusQuery(t *testing.T) {
	e := newEnv(t)
	address := realPrometheus(t)
	e.template("error-ratio", v1alpha1.Metric{
		Name:             "error-ratio",
		SuccessCondition: "result[0] <= 0.05",
		Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
			Address: address,
			Query:   `sum(rate(http_requests_total{code="500"}[10s])) / sum(rate(http_requests_total[10s]))`,
			Timeout: ptr.To[int64](10),
		}},
	})
	e.service("api-active", "api")
	e.service("api-preview", "api")
	e.createRollout(rollout("api", v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		ActiveService: "api-active", PreviewService: "api-preview", AbortScaleDownDelaySeconds: ptr.To[int32](0),
		PrePromotionAnalysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "error-ratio"}}},
	}}))
	v1 := e.rolloutPhase("api", v1alpha1.RolloutPhaseHealthy).Status.StableRS
	e.setImage("api", "example/api:2")
	ro := e.rolloutPhase("api", v1alpha1.RolloutPhaseDegraded)
	for _, want := range []string{`Metric "error-ratio" assessed Failed`, "last value [0.", "against successCondition result[0] <= 0.05"} {
		if !strings.Contains(ro.Status.Message, want) {
			t.Errorf("message %q lacks %q", ro.Status.Message, want)
		}
	}
	if e.selector("api-active") != v1 {
		t.Error("the active Service left the stable version")
	}
}
