package skywalking_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/providertest"
	"github.com/rampdev/ramp/internal/analysis/skywalking"
	"github.com/rampdev/ramp/internal/analysis/skywalking/skywalkingtest"
)

// apdex is Argo Rollouts' documented SkyWalking query.
const apdex = `query queryData($duration: Duration!) {
  service_apdex: readMetricsValues(condition: {name: "service_apdex", entity: {scope: Service, serviceName: "shop", normal: true}}, duration: $duration) {
    label values { values { value } }
  }
}`

func data(values ...float64) map[string]any {
	var vs []any
	for _, v := range values {
		vs = append(vs, map[string]any{"value": v})
	}
	return map[string]any{"service_apdex": map[string]any{"label": nil, "values": map[string]any{"values": vs}}}
}

func metric(address, condition string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "apdex", SuccessCondition: condition,
		Provider: v1alpha1.MetricProvider{SkyWalking: &v1alpha1.SkyWalkingMetric{Address: address, Query: apdex, Interval: "5m"}}}
}

const documented = "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})"

func TestConformance(t *testing.T) {
	srv := skywalkingtest.Start(t)
	srv.Answer(apdex, data(9950, 10000))
	hc := fetch.New(64<<10, 0)
	providertest.Run(t, providertest.Suite{
		Provider:  skywalking.Provider{HTTP: hc},
		Metric:    metric(srv.URL, ""),
		Passes:    documented,
		Text:      `{"service_apdex":{"label":null,"values":{"values":[{"value":9950},{"value":10000}]}}}`,
		Fault:     srv.Faults.Set,
		CloseIdle: hc.CloseIdle,
	})
}

func judge(t *testing.T, p skywalking.Provider, m v1alpha1.Metric) (v1alpha1.AnalysisPhase, error) {
	t.Helper()
	_, phase, err := providertest.Judge(t, p, analysis.Request{Metric: m})
	return phase, err
}

type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.Date(2026, 12, 2, 15, 4, 0, 0, time.Local) }

func TestFailureEmptyAndErrors(t *testing.T) {
	srv := skywalkingtest.Start(t)
	srv.Answer(apdex, data(9950, 8000))
	p := skywalking.Provider{Clock: fixedClock{}}
	if phase, err := judge(t, p, metric(srv.URL, documented)); phase != v1alpha1.AnalysisPhaseFailed || err != nil {
		t.Fatalf("a low apdex: %s %v", phase, err)
	}
	if d := srv.Durations()[0]; d.Start != "2026-12-02 1459" || d.End != "2026-12-02 1504" || d.Step != "MINUTE" {
		t.Errorf("duration %+v", d)
	}
	srv.Answer(apdex, nil)
	if _, err := judge(t, p, metric(srv.URL, documented)); err == nil || !strings.Contains(err.Error(), "no results") {
		t.Errorf("data null: %v", err)
	}
	m := metric(srv.URL, documented)
	m.Provider.SkyWalking.Query = "query { nothing }"
	if _, err := judge(t, p, m); err == nil || !strings.Contains(err.Error(), "graphql: Variable 'duration' is not declared") {
		t.Errorf("a GraphQL error: %v", err)
	}
	m = metric(srv.URL, documented)
	m.Provider.SkyWalking.Interval = ""
	if _, err := judge(t, p, m); err == nil || !strings.Contains(err.Error(), "interval is required") {
		t.Errorf("no interval: %v", err)
	}
}
