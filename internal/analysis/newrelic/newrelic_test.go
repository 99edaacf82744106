package newrelic_test

import (
	"strconv"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/newrelic"
	"github.com/rampdev/ramp/internal/analysis/newrelic/newrelictest"
	"github.com/rampdev/ramp/internal/analysis/providertest"
)

const nrql = "SELECT percentage(count(*), WHERE error IS true) AS errorRate FROM Transaction WHERE appName = 'shop' SINCE 5 minutes ago"

func provider(srv *newrelictest.Server, hc *fetch.Client, secret map[string]string) newrelic.Provider {
	if secret == nil {
		secret = map[string]string{"personal-api-key": newrelictest.Key, "account-id": strconv.Itoa(newrelictest.Account), "region": "eu", "base-url-nerdgraph": srv.URL}
	}
	return newrelic.Provider{HTTP: hc, Credentials: analysis.Credentials{Namespace: "ramp-system",
		Reader: providertest.Secrets{"ramp-system/newrelic": secret}}}
}

func metric(query, condition string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "errors", SuccessCondition: condition,
		Provider: v1alpha1.MetricProvider{NewRelic: &v1alpha1.NewRelicMetric{Query: query}}}
}

func TestConformance(t *testing.T) {
	srv := newrelictest.Start(t)
	srv.Set(nrql, map[string]any{"errorRate": 0.5})
	hc := fetch.New(64<<10, 0)
	providertest.Run(t, providertest.Suite{
		Provider:  provider(srv, hc, nil),
		Metric:    metric(nrql, ""),
		Passes:    "result.errorRate < 1",
		Text:      `{"errorRate":0.5}`,
		Fault:     srv.Faults.Set,
		Secrets:   []string{newrelictest.Key},
		CloseIdle: hc.CloseIdle,
	})
}

func judge(t *testing.T, p newrelic.Provider, m v1alpha1.Metric) (analysis.Outcome, v1alpha1.AnalysisPhase, error) {
	t.Helper()
	return providertest.Judge(t, p, analysis.Request{Metric: m})
}

func TestRowsAndFailure(t *testing.T) {
	srv := newrelictest.Start(t)
	const facet = "SELECT count(*), average(duration) FROM Transaction FACET appName"
	srv.Set(facet, map[string]any{"appName": "shop", "count": 10, "average.duration": 0.2}, map[string]any{"appName": "cart", "count": 3, "average.duration": 1.5})
	out, phase, err := judge(t, provider(srv, nil, nil), metric(facet, "all(result, {#['average.duration'] < 1})"))
	if phase != v1alpha1.AnalysisPhaseFailed || err != nil {
		t.Fatalf("%s %v", phase, err)
	}
	if out.Text != `[{"appName":"shop","average.duration":0.2,"count":10},{"appName":"cart","average.duration":1.5,"count":3}]` {
		t.Errorf("value %s", out.Text)
	}
	m := metric(facet, "true")
	m.Provider.NewRelic.Timeout = ptr.To[int64](20)
	if _, _, err := judge(t, provider(srv, nil, nil), m); err != nil {
		t.Fatal(err)
	}
	if v := srv.Requests(); v[0].Timeout != 5 || v[1].Timeout != 20 || v[0].AccountID != newrelictest.Account || v[0].Query != facet {
		t.Errorf("variables sent %+v", v)
	}
}

func TestNoRowsAndErrors(t *testing.T) {
	srv := newrelictest.Start(t)
	srv.Set("SELECT count(*) FROM Nothing")
	p := provider(srv, nil, nil)
	if _, _, err := judge(t, p, metric("SELECT count(*) FROM Nothing", "true")); err == nil || !strings.Contains(err.Error(), "no results") {
		t.Errorf("no rows: %v", err)
	}
	if _, _, err := judge(t, p, metric("SELEC nonsense", "true")); err == nil || !strings.Contains(err.Error(), "NerdGraph: NRQL Syntax Error") {
		t.Errorf("a bad NRQL: %v", err)
	}
	m := metric("x", "true")
	m.Provider.NewRelic.Timeout = ptr.To[int64](-1)
	if _, _, err := judge(t, p, m); err == nil || !strings.Contains(err.Error(), "timeout must not be negative") {
		t.Errorf("a negative timeout: %v", err)
	}
	bad := provider(srv, nil, map[string]string{"personal-api-key": "NRAK-REVOKED-999", "account-id": strconv.Itoa(newrelictest.Account), "base-url-nerdgraph": srv.URL})
	if _, _, err := judge(t, bad, metric(nrql, "true")); err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "NRAK-REVOKED-999") {
		t.Errorf("a refused key: %v", err)
	}
	for secret, want := range map[string]map[string]string{
		"needs the keys personal-api-key and account-id": {"personal-api-key": "k"},
		`account-id "abc" is not a number`:               {"personal-api-key": "k", "account-id": "abc"},
		`region "mars" is not one of`:                    {"personal-api-key": "k", "account-id": "1", "region": "mars"},
	} {
		if _, _, err := judge(t, provider(srv, nil, want), metric(nrql, "true")); err == nil || !strings.Contains(err.Error(), secret) {
			t.Errorf("Secret %v: %v, want %q", want, err, secret)
		}
	}
}
