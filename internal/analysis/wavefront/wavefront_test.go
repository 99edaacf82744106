package wavefront_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/providertest"
	"github.com/rampdev/ramp/internal/analysis/wavefront"
	"github.com/rampdev/ramp/internal/analysis/wavefront/wavefronttest"
)

var start = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

type fixedClock struct{}

func (fixedClock) Now() time.Time { return start }

const query = `sum(rate(ts("shop.errors", version="2")))`

func provider(srv *wavefronttest.Server, hc *fetch.Client, token string) wavefront.Provider {
	return wavefront.Provider{HTTP: hc, Clock: fixedClock{}, Credentials: analysis.Credentials{Namespace: "ramp-system",
		Reader: providertest.Secrets{"ramp-system/wavefront-api-tokens": {srv.URL: token, "other.wavefront.com": "x"}}}}
}

func metric(address, condition string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "errors", SuccessCondition: condition,
		Provider: v1alpha1.MetricProvider{Wavefront: &v1alpha1.WavefrontMetric{Address: address, Query: query}}}
}

func at(d time.Duration) float64 { return float64(start.Add(d).Unix()) }

func TestConformance(t *testing.T) {
	srv := wavefronttest.Start(t)
	srv.Set(query, [][2]float64{{at(-2 * time.Minute), 9}, {at(-10 * time.Second), 0.5}, {at(time.Minute), 7}})
	hc := fetch.New(64<<10, 0)
	providertest.Run(t, providertest.Suite{
		Provider:  provider(srv, hc, wavefronttest.Token),
		Metric:    metric(srv.URL, ""),
		Passes:    "result == 0.5",
		Text:      "0.50",
		Fault:     srv.Faults.Set,
		Secrets:   []string{wavefronttest.Token},
		CloseIdle: hc.CloseIdle,
	})
}

func judge(t *testing.T, p wavefront.Provider, m v1alpha1.Metric) (analysis.Outcome, v1alpha1.AnalysisPhase, error) {
	t.Helper()
	return providertest.Judge(t, p, analysis.Request{Metric: m})
}

func TestSeveralSeriesFailureAndRequest(t *testing.T) {
	srv := wavefronttest.Start(t)
	srv.Set(query, [][2]float64{{at(-5 * time.Second), 1}}, [][2]float64{{at(3 * time.Second), 11}})
	srv.Warn("partial results")
	out, phase, err := judge(t, provider(srv, nil, wavefronttest.Token), metric(srv.URL, "all(result, # < 10)"))
	if phase != v1alpha1.AnalysisPhaseFailed || err != nil || out.Text != "[1.00,11.00]" {
		t.Fatalf("%s %s %v", phase, out.Text, err)
	}
	if out.Metadata["drift"] != "[-5,3]" || out.Metadata["warnings"] != "partial results" {
		t.Errorf("metadata %v", out.Metadata)
	}
	q := srv.Queries()[0]
	if q.Get("q") != query || q.Get("s") != "1796212800000" || q.Get("e") != q.Get("s") || q.Get("p") != "1" || q.Get("i") != "true" {
		t.Errorf("query sent %v", q)
	}
}

func TestNoSeriesAndCredentials(t *testing.T) {
	srv := wavefronttest.Start(t)
	if _, _, err := judge(t, provider(srv, nil, wavefronttest.Token), metric(srv.URL, "true")); err == nil || !strings.Contains(err.Error(), "no time series") {
		t.Errorf("no series: %v", err)
	}
	if _, _, err := judge(t, provider(srv, nil, "revoked-token-123"), metric(srv.URL, "true")); err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "revoked-token-123") {
		t.Errorf("a refused token: %v", err)
	}
	if _, _, err := judge(t, provider(srv, nil, ""), metric("unknown.wavefront.com", "true")); err == nil || !strings.Contains(err.Error(), "has no token for unknown.wavefront.com") {
		t.Errorf("no token for the address: %v", err)
	}
	p := provider(srv, nil, "")
	p.Credentials.Reader = providertest.Secrets{}
	if _, _, err := judge(t, p, metric(srv.URL, "true")); err == nil || !strings.Contains(err.Error(), "Secret ramp-system/wavefront-api-tokens does not exist") {
		t.Errorf("no Secret: %v", err)
	}
}
