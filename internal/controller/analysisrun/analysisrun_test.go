package analysisrun_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func TestSuccessfulRunTakesCountMeasurements(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `{"ok": true, "rate": 0.99}`)
	m := webMetric("rate", ep.URL)
	m.Count = ptr.To(intstr.FromInt32(3))
	m.Interval = "200ms"
	m.SuccessCondition = "result.rate >= 0.95"
	e.create("ok", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}})
	run := e.waitPhase("ok", v1alpha1.AnalysisPhaseSuccessful)
	res := run.Status.MetricResults[0]
	if res.Count != 3 || res.Successful != 3 || len(res.Measurements) != 3 || res.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("metric result %+v", res)
	}
	if run.Status.RunSummary != (v1alpha1.RunSummary{Count: 1, Successful: 1}) || run.Status.StartedAt == nil || run.Status.CompletedAt == nil {
		t.Errorf("status %+v", run.Status)
	}
	if got := res.Measurements[0]; got.Value != `{"ok":true,"rate":0.99}` || got.StartedAt == nil || got.FinishedAt == nil {
		t.Errorf("measurement %+v", got)
	}
	// The interval is honoured: measurements are at least 200ms apart.
	if gap := res.Measurements[1].FinishedAt.Sub(res.Measurements[0].FinishedAt.Time); gap < 0 {
		t.Errorf("measurements out of order: %v", gap)
	}
}

func TestFailureLimitFailsTheRunWithTheValueInTheMessage(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `{"rate": 0.80}`)
	m := webMetric("rate", ep.URL)
	m.Count = ptr.To(intstr.FromInt32(5))
	m.Interval = "100ms"
	m.FailureLimit = ptr.To(intstr.FromInt32(1))
	m.SuccessCondition = "result.rate >= 0.95"
	e.create("bad", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}})
	run := e.waitPhase("bad", v1alpha1.AnalysisPhaseFailed)
	want := `Metric "rate" assessed Failed due to failed (2) > failureLimit (1); last value {"rate":0.80} against successCondition result.rate >= 0.95`
	if run.Status.Message != want {
		t.Errorf("message %q, want %q", run.Status.Message, want)
	}
	if res := run.Status.MetricResults[0]; res.Count != 2 || res.Failed != 2 {
		t.Errorf("stopped after %d measurements (%d failed), want 2", res.Count, res.Failed)
	}
}

func TestInconclusiveWhenNeitherConditionHolds(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `0.9`)
	m := webMetric("rate", ep.URL)
	m.SuccessCondition = "result >= 0.95"
	m.FailureCondition = "result < 0.5"
	e.create("inc", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}})
	e.waitPhase("inc", v1alpha1.AnalysisPhaseInconclusive)
}

// A provider that fails is an Error measurement with the cause, counted
// against consecutiveErrorLimit; never a success.
func TestProviderErrorsEndInErrorWithTheCause(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, "")
	ep.answer(http.StatusInternalServerError, "database down")
	m := webMetric("rate", ep.URL)
	m.ConsecutiveErrorLimit = ptr.To(intstr.FromInt32(2))
	e.create("err", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}})
	run := e.waitPhase("err", v1alpha1.AnalysisPhaseError)
	res := run.Status.MetricResults[0]
	if res.Error != 3 || res.ConsecutiveError != 3 || res.Successful != 0 {
		t.Errorf("metric result %+v", res)
	}
	if !strings.Contains(run.Status.Message, "consecutiveErrors (3) > consecutiveErrorLimit (2)") || !strings.Contains(run.Status.Message, "500 Internal Server Error: database down") {
		t.Errorf("message %q", run.Status.Message)
	}
}

func TestEmptyResultSaysSo(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `[]`)
	m := webMetric("rate", ep.URL)
	m.SuccessCondition = "len(result) > 0 && result[0] > 1"
	e.create("empty", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}})
	run := e.waitPhase("empty", v1alpha1.AnalysisPhaseFailed)
	if got := run.Status.MetricResults[0].Measurements[0].Message; got != "the query returned no data" {
		t.Errorf("measurement message %q", got)
	}
}

func TestBadConditionIsAnErrorWithItsPosition(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `1`)
	m := webMetric("rate", ep.URL)
	m.SuccessCondition = "result >= "
	m.ConsecutiveErrorLimit = ptr.To(intstr.FromInt32(0))
	e.create("cond", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}})
	run := e.waitPhase("cond", v1alpha1.AnalysisPhaseError)
	if got := run.Status.MetricResults[0].Measurements[0].Message; !strings.Contains(got, `condition "result >= "`) || !strings.Contains(got, "(1:") {
		t.Errorf("measurement message %q", got)
	}
}

func TestMissingArgumentIsAnErrorNamingIt(t *testing.T) {
	e := newEnv(t)
	m := webMetric("rate", "http://127.0.0.1:1/{{args.path}}")
	e.create("noarg", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}, Args: []v1alpha1.Argument{{Name: "path"}}})
	run := e.waitPhase("noarg", v1alpha1.AnalysisPhaseError)
	if run.Status.Message != `argument "path" has no value` {
		t.Errorf("message %q", run.Status.Message)
	}
}

// A Secret argument reaches the provider and nothing else: not the run's
// spec, not its status.
func TestSecretArgumentsReachTheProviderOnly(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `{"ok": true}`)
	ep.check = func(r *http.Request) string {
		if r.Header.Get("Authorization") != "Bearer s3cr3t-t0ken" {
			return "wrong token"
		}
		return ""
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: e.ns}, Data: map[string][]byte{"token": []byte("s3cr3t-t0ken")}}
	if err := cl.Create(e.ctx, secret); err != nil {
		t.Fatal(err)
	}
	m := webMetric("rate", ep.URL)
	m.Provider.Web.Headers = []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer {{args.token}}"}}
	m.SuccessCondition = "result.ok"
	e.create("secret", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}, Args: []v1alpha1.Argument{
		{Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "api", Key: "token"}}},
	}})
	run := e.waitPhase("secret", v1alpha1.AnalysisPhaseSuccessful)
	if strings.Contains(statusJSON(run), "s3cr3t") || strings.Contains(run.Spec.Metrics[0].Provider.Web.Headers[0].Value, "s3cr3t") {
		t.Errorf("the secret leaked into the run: %s", statusJSON(run))
	}
}

func TestDryRunMetricsNeverDecide(t *testing.T) {
	e := newEnv(t)
	good := newEndpoint(t, `1`)
	bad := newEndpoint(t, `0`)
	m1 := webMetric("good", good.URL)
	m1.SuccessCondition = "result == 1"
	m2 := webMetric("shadow", bad.URL)
	m2.SuccessCondition = "result == 1"
	e.create("dry", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m1, m2}, DryRun: []v1alpha1.DryRun{{MetricName: "shadow"}}})
	run := e.waitPhase("dry", v1alpha1.AnalysisPhaseSuccessful)
	if run.Status.DryRunSummary == nil || run.Status.DryRunSummary.Failed != 1 || run.Status.RunSummary.Successful != 1 {
		t.Errorf("summaries %+v %+v", run.Status.RunSummary, run.Status.DryRunSummary)
	}
}

func TestTerminateEndsAnUnboundedMetric(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `1`)
	m := webMetric("rate", ep.URL)
	m.Interval = "100ms"
	e.create("term", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}, MeasurementRetention: []v1alpha1.MeasurementRetention{{MetricName: "rate", Limit: 2}}})
	e.eventually(20*time.Second, "a few measurements", func() (bool, string) {
		res := e.get("term").Status.MetricResults
		return len(res) == 1 && res[0].Count >= 4, ""
	})
	run := e.get("term")
	if n := len(run.Status.MetricResults[0].Measurements); n != 2 {
		t.Errorf("%d measurements kept, want measurementRetention's 2", n)
	}
	patch := client.MergeFrom(run.DeepCopy())
	run.Spec.Terminate = true
	if err := cl.Patch(e.ctx, run, patch); err != nil {
		t.Fatal(err)
	}
	e.waitPhase("term", v1alpha1.AnalysisPhaseSuccessful)
}

func TestTTLStrategyDeletesAFinishedRun(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `1`)
	e.create("ttl", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{webMetric("rate", ep.URL)}, TTLStrategy: &v1alpha1.TTLStrategy{SecondsAfterCompletion: ptr.To[int32](1)}})
	e.eventually(20*time.Second, "deleted after its TTL", func() (bool, string) {
		err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "ttl"}, &v1alpha1.AnalysisRun{})
		return apierrors.IsNotFound(err), ""
	})
}
