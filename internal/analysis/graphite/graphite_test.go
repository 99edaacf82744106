package graphite_test

import (
	"strings"
	"testing"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/graphite"
	"github.com/rampdev/ramp/internal/analysis/graphite/graphitetest"
	"github.com/rampdev/ramp/internal/analysis/providertest"
)

const target = "asPercent(sumSeries(shop.errors),sumSeries(shop.requests))"

func metric(address, query, condition string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "errors", SuccessCondition: condition,
		Provider: v1alpha1.MetricProvider{Graphite: &v1alpha1.GraphiteMetric{Address: address, Query: query}}}
}

func TestConformance(t *testing.T) {
	srv := graphitetest.Start(t, "/graphite")
	srv.Set(target, 1.0, nil, "2.5")
	hc := fetch.New(64<<10, 0)
	providertest.Run(t, providertest.Suite{
		Provider:  graphite.Provider{HTTP: hc},
		Metric:    metric(srv.URL, "target="+target+"&from=-5min", ""),
		Passes:    "len(result) == 2 && result[0] == 1 && all(result, # < 5)",
		Text:      "[1.000000,2.500000]",
		Fault:     srv.Faults.Set,
		CloseIdle: hc.CloseIdle,
	})
}

func judge(t *testing.T, m v1alpha1.Metric) (analysis.Outcome, v1alpha1.AnalysisPhase, error) {
	t.Helper()
	return providertest.Judge(t, graphite.Provider{}, analysis.Request{Metric: m})
}

func TestQueryOverSeveralLinesAndFailure(t *testing.T) {
	srv := graphitetest.Start(t, "")
	srv.Set(target, 9.0, 12.0)
	query := "target=asPercent(\n  sumSeries(shop.errors),\n  sumSeries(shop.requests))\n&from=-5min&format=raw"
	out, phase, err := judge(t, metric(srv.URL, query, "all(result, # < 10)"))
	if phase != v1alpha1.AnalysisPhaseFailed || out.Text != "[9.000000,12.000000]" || err != nil {
		t.Fatalf("%s %s %v", phase, out.Text, err)
	}
	q := srv.Queries()[0]
	if q.Get("target") != target || q.Get("from") != "-5min" || q.Get("format") != "json" {
		t.Errorf("query sent %v", q)
	}
}

func TestNoDataAndBadInput(t *testing.T) {
	srv := graphitetest.Start(t, "")
	srv.Set("nulls", nil, nil)
	if _, _, err := judge(t, metric(srv.URL, "target=missing", "result[0] < 1")); err == nil || !strings.Contains(err.Error(), "no values found") {
		t.Errorf("an unknown target: %v", err)
	}
	out, phase, err := judge(t, metric(srv.URL, "target=nulls", "result[0] < 1"))
	if phase != v1alpha1.AnalysisPhaseError || out.Text != "[]" || err == nil {
		t.Errorf("only nulls: %s %s %v", phase, out.Text, err)
	}
	for addr, want := range map[string]string{"": "is not a URL", "graphite:8080": "is not a URL"} {
		if _, _, err := judge(t, metric(addr, "target=x", "true")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("address %q: %v", addr, err)
		}
	}
	if _, _, err := judge(t, metric(srv.URL, "from=-5min", "true")); err == nil || !strings.Contains(err.Error(), "no target=") {
		t.Errorf("no target: %v", err)
	}
}
