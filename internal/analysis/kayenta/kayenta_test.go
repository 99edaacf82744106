package kayenta_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/kayenta"
	"github.com/rampdev/ramp/internal/analysis/kayenta/kayentatest"
	"github.com/rampdev/ramp/internal/analysis/providertest"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

type fixedClock struct{}

func (fixedClock) Now() time.Time { return now }

func metric(address string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "judge", Interval: "10m", Provider: v1alpha1.MetricProvider{Kayenta: &v1alpha1.KayentaMetric{
		Address: address, Application: "shop", CanaryConfigName: "shop-canary",
		MetricsAccountName: "prometheus", ConfigurationAccountName: "config-store", StorageAccountName: "storage",
		Threshold: v1alpha1.KayentaThreshold{Pass: 90, Marginal: 75},
		Scopes: []v1alpha1.KayentaScope{{Name: "default",
			ControlScope:    v1alpha1.ScopeDetail{Scope: "app=shop,hash=stable", Region: "eu-west-1", Step: 60},
			ExperimentScope: v1alpha1.ScopeDetail{Scope: "app=shop,hash=canary", Region: "eu-west-1", Step: 60}}},
	}}}
}

func TestConformance(t *testing.T) {
	srv := kayentatest.Start(t)
	srv.Judge(92.7, 1)
	hc := fetch.New(64<<10, 0)
	providertest.Run(t, providertest.Suite{
		Provider:  kayenta.Provider{HTTP: hc, Clock: fixedClock{}},
		Metric:    metric(srv.URL),
		Text:      "92",
		Fault:     srv.Faults.Set,
		CloseIdle: hc.CloseIdle,
	})
}

// measure starts a judgement and looks at it until it completes,
// returning the outcome and how many looks it took.
func measure(t *testing.T, p kayenta.Provider, req analysis.Request) (analysis.Outcome, int, error) {
	t.Helper()
	out, err := p.Measure(t.Context(), req)
	looks := 0
	for err == nil && out.Running {
		if out.Poll != kayenta.Poll {
			t.Errorf("poll %s, want %s", out.Poll, kayenta.Poll)
		}
		looks++
		out, err = p.Resume(t.Context(), req, &v1alpha1.Measurement{Metadata: out.Metadata})
	}
	return out, looks, err
}

func TestScoreAgainstThresholds(t *testing.T) {
	srv := kayentatest.Start(t)
	p := kayenta.Provider{Clock: fixedClock{}}
	for score, want := range map[float64]v1alpha1.AnalysisPhase{95: v1alpha1.AnalysisPhaseSuccessful, 90: v1alpha1.AnalysisPhaseSuccessful, 89.9: v1alpha1.AnalysisPhaseInconclusive, 75: v1alpha1.AnalysisPhaseInconclusive, 40: v1alpha1.AnalysisPhaseFailed} {
		srv.Judge(score, 2)
		out, looks, err := measure(t, p, analysis.Request{Metric: metric(srv.URL)})
		if err != nil || out.Phase != want || looks != 3 || out.Metadata[kayenta.ExecutionKey] == "" {
			t.Errorf("score %v: %s (%s) after %d looks, %v; want %s", score, out.Phase, out.Text, looks, err, want)
		}
	}
	st := srv.Started()[0]
	q := st.Query
	if st.ConfigID != "8f2c-shop-canary" || q.Get("metricsAccountName") != "prometheus" || q.Get("configurationAccountName") != "config-store" || q.Get("storageAccountName") != "storage" {
		t.Errorf("started %+v", st)
	}
	c := st.Body.Scopes["default"].ControlScope
	if c.Scope != "app=shop,hash=stable" || c.Location != "eu-west-1" || c.Start != "2026-12-02T11:50:00Z" || c.End != "2026-12-02T12:00:00Z" || st.Body.Thresholds.Pass != 90 {
		t.Errorf("body %+v", st.Body)
	}
}

func TestLookbackAndScopeErrors(t *testing.T) {
	srv := kayentatest.Start(t)
	p := kayenta.Provider{Clock: fixedClock{}}
	m := metric(srv.URL)
	m.Provider.Kayenta.Lookback = true
	run := &v1alpha1.AnalysisRun{}
	run.Status.StartedAt = &metav1.Time{Time: now.Add(-time.Hour)}
	if _, _, err := measure(t, p, analysis.Request{Run: run, Metric: m}); err != nil {
		t.Fatal(err)
	}
	if c := srv.Started()[0].Body.Scopes["default"].ExperimentScope; c.Start != "2026-12-02T11:00:00Z" {
		t.Errorf("lookback: the window starts %s, want the run's start", c.Start)
	}
	m = metric(srv.URL)
	m.Provider.Kayenta.Scopes[0].ControlScope.Start = "2026-12-02T11:00:00Z"
	if _, _, err := measure(t, p, analysis.Request{Metric: m}); err == nil || !strings.Contains(err.Error(), "must both be set or both be empty") {
		t.Errorf("one start: %v", err)
	}
	m = metric(srv.URL)
	m.Interval = ""
	if _, _, err := measure(t, p, analysis.Request{Metric: m}); err == nil || !strings.Contains(err.Error(), "needs an interval") {
		t.Errorf("no window: %v", err)
	}
	m = metric(srv.URL)
	m.Provider.Kayenta.CanaryConfigName = "other"
	if _, _, err := measure(t, p, analysis.Request{Metric: m}); err == nil || !strings.Contains(err.Error(), `canary configuration "other" not found`) {
		t.Errorf("an unknown configuration: %v", err)
	}
}
