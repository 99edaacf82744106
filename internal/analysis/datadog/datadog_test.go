package datadog_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/datadog"
	"github.com/rampdev/ramp/internal/analysis/datadog/datadogtest"
	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/providertest"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

type fixedClock struct{}

func (fixedClock) Now() time.Time { return now }

func provider(srv *datadogtest.Server, hc *fetch.Client, env map[string]string) datadog.Provider {
	store := providertest.Secrets{"ramp-system/datadog": {"address": srv.URL, "api-key": datadogtest.APIKey, "app-key": datadogtest.AppKey}}
	return datadog.Provider{
		HTTP:  hc,
		Clock: fixedClock{},
		Credentials: analysis.Credentials{Reader: store, Namespace: "ramp-system", Getenv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		}},
	}
}

const errorRate = "sum:requests.error.rate{service=shop,version=2}.as_count()"

func v1Metric(query, condition string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "errors", SuccessCondition: condition,
		Provider: v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{Query: query, Interval: "5m", ApiVersion: "v1"}}}
}

func TestConformance(t *testing.T) {
	srv := datadogtest.Start(t)
	srv.SetSeries(errorRate, datadogtest.V(0.02), datadogtest.V(0.004))
	hc := fetch.New(64<<10, 0)
	providertest.Run(t, providertest.Suite{
		Provider: provider(srv, hc, nil),
		Metric:   v1Metric(errorRate, ""),
		Passes:   "result < 0.01",
		Text:     "0.004",
		Fault: func(f providertest.Fault) {
			srv.Fail(0)
			srv.Delay(0)
			srv.Huge(0)
			srv.Refuse(false)
			switch f {
			case providertest.Unauthorized:
				srv.Refuse(true)
			case providertest.ServerError:
				srv.Fail(http.StatusServiceUnavailable)
			case providertest.Hang:
				srv.Delay(time.Hour)
			case providertest.Huge:
				srv.Huge(128 << 10)
			}
		},
		Secrets:   []string{datadogtest.APIKey, datadogtest.AppKey},
		CloseIdle: hc.CloseIdle,
	})
}

func TestRefusedKeysAreAnErrorWithoutThem(t *testing.T) {
	srv := datadogtest.Start(t)
	p := provider(srv, nil, nil)
	p.Credentials.Reader = providertest.Secrets{"ramp-system/datadog": {"address": srv.URL, "api-key": "wrong-api-key-1234", "app-key": "wrong-app-key-5678"}}
	_, err := p.Measure(t.Context(), analysis.Request{Run: &v1alpha1.AnalysisRun{}, Metric: v1Metric(errorRate, "")})
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "wrong-api-key-1234") || strings.Contains(err.Error(), "wrong-app-key-5678") {
		t.Fatalf("refused keys: %v", err)
	}
}

func judge(t *testing.T, p datadog.Provider, m v1alpha1.Metric) (analysis.Outcome, v1alpha1.AnalysisPhase, error) {
	t.Helper()
	return providertest.Judge(t, p, analysis.Request{Run: &v1alpha1.AnalysisRun{ObjectMeta: objectMeta("shop")}, Metric: m})
}

func TestV1(t *testing.T) {
	srv := datadogtest.Start(t)
	srv.SetSeries(errorRate, datadogtest.V(0.001), datadogtest.V(0.08))
	p := provider(srv, nil, nil)
	out, phase, err := judge(t, p, v1Metric(errorRate, "result < 0.05"))
	if phase != v1alpha1.AnalysisPhaseFailed || out.Text != "0.08" || err != nil {
		t.Fatalf("a failing value: %s %s %v", phase, out.Text, err)
	}
	r := srv.Requests()[0]
	if r.Method != "GET" || r.Query["query"][0] != errorRate || r.Query["from"][0] != "1796212500" || r.Query["to"][0] != "1796212800" {
		t.Errorf("request %+v", r)
	}
	// No series: nil, so default(result, 0) holds and result < x is an Error.
	out, phase, err = judge(t, p, v1Metric("sum:nothing{*}", "default(result, 0) < 0.05"))
	if phase != v1alpha1.AnalysisPhaseSuccessful || out.Text != "[]" || err != nil {
		t.Fatalf("no data with default(): %s %s %v", phase, out.Text, err)
	}
	_, phase, err = judge(t, p, v1Metric("sum:nothing{*}", "result < 0.05"))
	if phase != v1alpha1.AnalysisPhaseError || err == nil {
		t.Fatalf("no data without default(): %s %v", phase, err)
	}
}

func TestV2FormulaAndGroups(t *testing.T) {
	srv := datadogtest.Start(t)
	srv.SetScalar("errors / requests", datadogtest.Group{Value: datadogtest.V(0.0125)})
	srv.SetScalar("sum:errors{*} by {env}", datadogtest.Group{Tags: []string{"env:prod"}, Value: datadogtest.V(3)}, datadogtest.Group{Tags: []string{"env:dev"}, Value: nil}, datadogtest.Group{Tags: []string{"env:qa"}, Value: datadogtest.V(0)})
	p := provider(srv, nil, nil)
	m := v1alpha1.Metric{Name: "ratio", SuccessCondition: "result < 0.02", Provider: v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{
		ApiVersion: "v2", Interval: "10m", Aggregator: "sum", Formula: "errors / requests",
		Queries: map[string]string{"requests": "sum:requests{*}.as_count()", "errors": "sum:errors{*}.as_count()"},
	}}}
	out, phase, err := judge(t, p, m)
	if phase != v1alpha1.AnalysisPhaseSuccessful || out.Text != "0.0125" || err != nil {
		t.Fatalf("formula: %s %s %v", phase, out.Text, err)
	}
	body := srv.Requests()[0].Body.Data.Attributes
	if body.From != now.Add(-10*time.Minute).UnixMilli() || body.To != now.UnixMilli() || len(body.Queries) != 2 || body.Queries[0].Name != "errors" || body.Queries[0].Aggregator != "sum" || body.Formulas[0].Formula != "errors / requests" {
		t.Errorf("request body %+v", body)
	}
	g := v1alpha1.Metric{Name: "by-env", SuccessCondition: "max(result) < 1", Provider: v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{ApiVersion: "v2", Query: "sum:errors{*} by {env}"}}}
	out, phase, err = judge(t, p, g)
	if phase != v1alpha1.AnalysisPhaseFailed || out.Text != "[3,0]" || err != nil || out.Metadata["groups"] != `[{"name":"env:prod","value":3},{"name":"env:qa","value":0}]` {
		t.Fatalf("groups: %s %s %v %v", phase, out.Text, err, out.Metadata)
	}
}

func TestCredentialSources(t *testing.T) {
	srv := datadogtest.Start(t)
	srv.SetSeries(errorRate, datadogtest.V(0))
	ok := v1Metric(errorRate, "result == 0")
	// The DD_* environment, all three set, comes before the Secret.
	p := provider(srv, nil, map[string]string{"DD_API_KEY": datadogtest.APIKey, "DD_APP_KEY": datadogtest.AppKey, "DD_ADDRESS": srv.URL})
	p.Credentials.Reader = providertest.Secrets{}
	if _, phase, err := judge(t, p, ok); phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("from the environment: %s %v", phase, err)
	}
	// A named Secret, in the run's namespace when namespaced.
	p = provider(srv, nil, nil)
	p.Credentials.Reader = providertest.Secrets{"shop/dd": {"address": srv.URL + "/", "api-key": datadogtest.APIKey, "app-key": datadogtest.AppKey}}
	named := ok
	named.Provider.Datadog = &v1alpha1.DatadogMetric{Query: errorRate, SecretRef: v1alpha1.SecretRef{Name: "dd", Namespaced: true}}
	if _, phase, err := judge(t, p, named); phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("from the run's namespace: %s %v", phase, err)
	}
	named.Provider.Datadog.SecretRef.Namespaced = false
	if _, _, err := judge(t, p, named); err == nil || !strings.Contains(err.Error(), "Secret ramp-system/dd does not exist") {
		t.Errorf("a named Secret looked for in the controller's namespace: %v", err)
	}
	for msg, block := range map[string]*v1alpha1.DatadogMetric{
		"secretRef.namespaced needs secretRef.name": {Query: errorRate, SecretRef: v1alpha1.SecretRef{Namespaced: true}},
		"several queries need a formula":            {ApiVersion: "v2", Queries: map[string]string{"a": "x", "b": "y"}},
		"aggregator is not supported":               {Query: errorRate, Aggregator: "sum"},
		"requestTimeout must be a positive":         {Query: errorRate, RequestTimeout: "-1s"},
	} {
		m := ok
		m.Provider.Datadog = block
		if _, _, err := judge(t, p, m); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%+v: %v, want %q", block, err, msg)
		}
	}
}

func objectMeta(namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: "run", Namespace: namespace}
}
