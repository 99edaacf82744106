package influxdb_test

import (
	"strings"
	"testing"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/influxdb"
	"github.com/rampdev/ramp/internal/analysis/influxdb/influxdbtest"
	"github.com/rampdev/ramp/internal/analysis/providertest"
)

const flux = `from(bucket: "shop") |> range(start: -15m) |> filter(fn: (r) => r._measurement == "http" and r._field == "errors") |> aggregateWindow(every: 5m, fn: sum)`

func provider(srv *influxdbtest.Server, hc *fetch.Client, token string) influxdb.Provider {
	return influxdb.Provider{HTTP: hc, Credentials: analysis.Credentials{Namespace: "ramp-system",
		Reader: providertest.Secrets{"ramp-system/influxdb": {"address": srv.URL, "authToken": token, "org": influxdbtest.Org}}}}
}

func metric(query, condition string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "errors", SuccessCondition: condition,
		Provider: v1alpha1.MetricProvider{Influxdb: &v1alpha1.InfluxdbMetric{Query: query}}}
}

func TestConformance(t *testing.T) {
	srv := influxdbtest.Start(t)
	srv.Set(flux, 1.0, 6.6)
	hc := fetch.New(64<<10, 0)
	providertest.Run(t, providertest.Suite{
		Provider:  provider(srv, hc, influxdbtest.Token),
		Metric:    metric(flux, ""),
		Passes:    "result[0] <= 1 && len(result) == 2",
		Text:      "[1 6.6]",
		Fault:     srv.Faults.Set,
		Secrets:   []string{influxdbtest.Token},
		CloseIdle: hc.CloseIdle,
	})
}

func judge(t *testing.T, p influxdb.Provider, m v1alpha1.Metric) (analysis.Outcome, v1alpha1.AnalysisPhase, error) {
	t.Helper()
	return providertest.Judge(t, p, analysis.Request{Metric: m})
}

func TestTypesFailureAndErrors(t *testing.T) {
	srv := influxdbtest.Start(t)
	srv.Set(flux, int64(3), int64(40))
	p := provider(srv, nil, influxdbtest.Token)
	out, phase, err := judge(t, p, metric(flux, "all(result, # < 10)"))
	if phase != v1alpha1.AnalysisPhaseFailed || err != nil || out.Text != "[3 40]" {
		t.Fatalf("%s %s %v", phase, out.Text, err)
	}
	if v, ok := out.Value.([]any); !ok || len(v) != 2 || v[0] != int64(3) {
		t.Errorf("a long column's values %#v, want int64s", out.Value)
	}
	srv.Set("empty", []any{}...)
	if _, _, err := judge(t, p, metric("empty", "true")); err == nil || !strings.Contains(err.Error(), "no results") {
		t.Errorf("no records: %v", err)
	}
	if _, _, err := judge(t, p, metric("bad flux", "true")); err == nil || !strings.Contains(err.Error(), "compilation failed") {
		t.Errorf("a bad query: %v", err)
	}
	if _, _, err := judge(t, provider(srv, nil, "revoked-influx-token"), metric(flux, "true")); err == nil || !strings.Contains(err.Error(), "unauthorized") || strings.Contains(err.Error(), "revoked-influx-token") {
		t.Errorf("a refused token: %v", err)
	}
	p.Credentials.Reader = providertest.Secrets{"ramp-system/influxdb": {"address": srv.URL, "org": "x"}}
	if _, _, err := judge(t, p, metric(flux, "true")); err == nil || !strings.Contains(err.Error(), "needs the keys address, authToken and org") {
		t.Errorf("no token: %v", err)
	}
}
