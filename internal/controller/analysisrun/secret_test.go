package analysisrun_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/web"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/controller/analysisrun"
)

// unavailable answers the first n reads of Secrets with 503, as an API
// server under load or restarting would.
type unavailable struct {
	next http.RoundTripper
	n    int32
	seen atomic.Int32
}

func (u *unavailable) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/secrets/") && u.seen.Add(1) <= u.n {
		body := `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503}`
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Request: r, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}, nil
	}
	return u.next.RoundTrip(r)
}

// A Secret that cannot be read for a moment is read again (with backoff)
// and the run goes on; one that does not exist ends the run in Error,
// naming it.
func TestSecretReadIsRetried(t *testing.T) {
	e := newEnv(t)
	const instance = "flaky-secrets"
	opts := app.Options{InstanceID: instance, SkipControllerNameValidation: true, WithoutAnalysisRuns: true}
	mgr, err := app.NewManager(clustertest.AsController(shared.Config()), opts)
	if err != nil {
		t.Fatal(err)
	}
	flaky := &unavailable{n: 3}
	cfg := shared.Config()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { flaky.next = rt; return flaky })
	reader, err := client.New(cfg, client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	r := &analysisrun.Reconciler{Client: mgr.GetClient(), APIReader: reader, Clock: clock.RealClock{},
		Providers: analysis.NewRegistry(web.Provider{}), InstanceID: instance, SkipNameValidation: true}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	clustertest.RunManager(t, mgr)

	ep := newEndpoint(t, `{"ok": 1}`)
	ep.check = func(r *http.Request) string {
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			return "no token"
		}
		return ""
	}
	if err := cl.Create(e.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "kpi"}, Data: map[string][]byte{"token": []byte("t0ken")}}); err != nil {
		t.Fatal(err)
	}
	run := func(name, secret string) {
		m := webMetric("ok", ep.URL)
		m.Provider.Web.Headers = []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer {{args.token}}"}}
		if err := cl.Create(e.ctx, &v1alpha1.AnalysisRun{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name, Labels: map[string]string{v1alpha1.InstanceIDLabelKey: instance}},
			Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m},
				Args: []v1alpha1.Argument{{Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: secret, Key: "token"}}}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	run("flaky", "kpi")
	got := e.waitPhase("flaky", v1alpha1.AnalysisPhaseSuccessful)
	if n := flaky.seen.Load(); n <= flaky.n {
		t.Errorf("the Secret was read %d times; want more than the %d refused", n, flaky.n)
	}
	if m := got.Status.MetricResults[0]; m.Successful != 1 || m.Error != 0 {
		t.Errorf("metric %+v", m)
	}
	run("missing", "no-such-secret")
	got = e.waitPhase("missing", v1alpha1.AnalysisPhaseError)
	if want := `argument "token": Secret no-such-secret does not exist`; got.Status.Message != want {
		t.Errorf("message %q; want %q", got.Status.Message, want)
	}
}
