package prometheus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/awsauth"
	"github.com/rampdev/ramp/internal/analysis/prometheus"
	"github.com/rampdev/ramp/internal/prometheustest"
)

var server *prometheustest.Server

// exporter serves counters that grow by known amounts at every scrape: 9
// successful requests and 1 error each time, so the error ratio is 0.1.
func exporter() *httptest.Server {
	var mu sync.Mutex
	ok, failed := 0, 0
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		ok, failed = ok+9, failed+1
		o, f := ok, failed
		mu.Unlock()
		fmt.Fprintf(w, "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} %d\nhttp_requests_total{code=\"500\"} %d\n# TYPE queue_depth gauge\nqueue_depth 42\n", o, f)
	}))
}

func TestMain(m *testing.M) {
	exp := exporter()
	dir, err := os.MkdirTemp("", "prometheus-test-")
	if err != nil {
		panic(err)
	}
	server, err = prometheustest.Start(context.Background(), dir, strings.TrimPrefix(exp.URL, "http://"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Wait for two scrapes, so that rate() has data.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := measure(context.Background(), &v1alpha1.PrometheusMetric{Address: server.URL, Query: `sum(rate(http_requests_total[10s]))`})
		if err == nil && out.Text != "[]" {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "prometheus has no data after 30s:", err, out.Text)
			os.Exit(1)
		}
		time.Sleep(200 * time.Millisecond)
	}
	code := m.Run()
	server.Stop()
	exp.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func measure(ctx context.Context, p *v1alpha1.PrometheusMetric) (analysis.Outcome, error) {
	return prometheus.Provider{}.Measure(ctx, analysis.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: p}}})
}

// judge runs the success condition and, after a ";", the failure one.
func judge(t *testing.T, value any, conds string) v1alpha1.AnalysisPhase {
	t.Helper()
	success, failure, _ := strings.Cut(conds, ";")
	s, err := analysis.Compile(success)
	if err != nil {
		t.Fatal(err)
	}
	var f *analysis.Condition
	if failure != "" {
		if f, err = analysis.Compile(failure); err != nil {
			t.Fatal(err)
		}
	}
	phase, _ := analysis.Judge(value, s, f)
	return phase
}

func TestQueriesAgainstARealPrometheus(t *testing.T) {
	for _, c := range []struct {
		name, query, cond string
		want              v1alpha1.AnalysisPhase
		text              string
	}{
		{"error ratio succeeds", `sum(rate(http_requests_total{code="500"}[10s])) / sum(rate(http_requests_total[10s]))`, "result[0] <= 0.11", v1alpha1.AnalysisPhaseSuccessful, ""},
		{"error ratio fails", `sum(rate(http_requests_total{code="500"}[10s])) / sum(rate(http_requests_total[10s]))`, "result[0] <= 0.05", v1alpha1.AnalysisPhaseFailed, ""},
		{"error ratio inconclusive", `sum(rate(http_requests_total{code="500"}[10s])) / sum(rate(http_requests_total[10s]))`, "result[0] <= 0.05;result[0] >= 0.5", v1alpha1.AnalysisPhaseInconclusive, ""},
		{"scalar", `scalar(queue_depth)`, "result == 42", v1alpha1.AnalysisPhaseSuccessful, "42"},
		{"vector", `queue_depth`, "result[0] == 42", v1alpha1.AnalysisPhaseSuccessful, "[42]"},
		{"empty, judged by len", `queue_depth{missing="x"}`, "len(result) == 0 || result[0] < 10", v1alpha1.AnalysisPhaseSuccessful, "[]"},
	} {
		out, err := measure(t.Context(), &v1alpha1.PrometheusMetric{Address: server.URL, Query: c.query})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := judge(t, out.Value, c.cond); got != c.want {
			t.Errorf("%s: %s on %s, want %s", c.name, got, out.Text, c.want)
		}
		if c.text != "" && out.Text != c.text {
			t.Errorf("%s: text %q, want %q", c.name, out.Text, c.text)
		}
	}
}

func TestRangeQuery(t *testing.T) {
	out, err := measure(t.Context(), &v1alpha1.PrometheusMetric{Address: server.URL, Query: "queue_depth",
		RangeQuery: &v1alpha1.PrometheusRangeQueryArgs{Start: `now() - duration("3s")`, End: "now()", Step: "1s"}})
	if err != nil {
		t.Fatal(err)
	}
	// A matrix: one series, with a point per step since the server began.
	if got := judge(t, out.Value, "len(result) == 1 && len(result[0]) >= 1 && all(result[0], {# == 42})"); got != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("matrix %s", out.Text)
	}
	if _, err := measure(t.Context(), &v1alpha1.PrometheusMetric{Address: server.URL, Query: "queue_depth",
		RangeQuery: &v1alpha1.PrometheusRangeQueryArgs{Start: `now() +`}}); err == nil || !strings.Contains(err.Error(), "rangeQuery.start") {
		t.Errorf("a bad start: %v", err)
	}
}

// Failures are errors with their cause.
func TestQueryErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, c := range []struct {
		name string
		p    *v1alpha1.PrometheusMetric
		want string
	}{
		{"bad PromQL", &v1alpha1.PrometheusMetric{Address: server.URL, Query: "sum("}, "parse error"},
		{"unreachable", &v1alpha1.PrometheusMetric{Address: closed.URL, Query: "up"}, "connection refused"},
		{"no address", &v1alpha1.PrometheusMetric{Query: "up"}, prometheus.AddressEnv},
	} {
		if _, err := measure(t.Context(), c.p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func TestAddressFromTheEnvironment(t *testing.T) {
	t.Setenv(prometheus.AddressEnv, server.URL)
	if out, err := measure(t.Context(), &v1alpha1.PrometheusMetric{Query: "queue_depth"}); err != nil || out.Text != "[42]" {
		t.Errorf("%s %v", out.Text, err)
	}
}

// guard proxies to the real Prometheus when check accepts the request.
func guard(t *testing.T, check func(*http.Request) string) *httptest.Server {
	target, _ := url.Parse(server.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := check(r); why != "" {
			http.Error(w, why, http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestBasicAuthHeadersAndOAuth2(t *testing.T) {
	basic := guard(t, func(r *http.Request) string {
		u, p, _ := r.BasicAuth()
		if u != "ramp" || p != "pw" || r.Header.Get("X-Scope-OrgID") != "team-a" {
			return "denied"
		}
		return ""
	})
	out, err := measure(t.Context(), &v1alpha1.PrometheusMetric{Address: basic.URL, Query: "queue_depth",
		Headers:        []v1alpha1.WebMetricHeader{{Key: "X-Scope-OrgID", Value: "team-a"}},
		Authentication: v1alpha1.Authentication{BasicAuth: v1alpha1.BasicAuth{Username: "ramp", Password: "pw"}}})
	if err != nil || out.Text != "[42]" {
		t.Errorf("basic auth: %s %v", out.Text, err)
	}
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokens.Close()
	bearer := guard(t, func(r *http.Request) string {
		if r.Header.Get("Authorization") != "Bearer tok" {
			return "no token"
		}
		return ""
	})
	out, err = measure(t.Context(), &v1alpha1.PrometheusMetric{Address: bearer.URL, Query: "queue_depth",
		Authentication: v1alpha1.Authentication{OAuth2: v1alpha1.OAuth2Config{TokenURL: tokens.URL, ClientID: "c", ClientSecret: "s"}}})
	if err != nil || out.Text != "[42]" {
		t.Errorf("oauth2: %s %v", out.Text, err)
	}
	if _, err := measure(t.Context(), &v1alpha1.PrometheusMetric{Address: bearer.URL, Query: "queue_depth"}); err == nil {
		t.Error("the guard let an unauthenticated query through")
	}
}

// The server recomputes the AWS Signature V4 of each request from the same
// credentials, region and service, and refuses a mismatch.
func TestSigV4SignsForAmazonManagedPrometheus(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "")
	verified := 0
	amp := guard(t, func(r *http.Request) string {
		got := r.Header.Get("Authorization")
		if !strings.HasPrefix(got, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(got, "/eu-west-1/aps/aws4_request") {
			return "not signed for aps in eu-west-1: " + got
		}
		at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			return "no X-Amz-Date"
		}
		body, _ := httputilDumpBody(r)
		// Re-sign exactly the headers the client signed, as AWS does.
		signed := map[string]bool{}
		if i := strings.Index(got, "SignedHeaders="); i >= 0 {
			for _, h := range strings.Split(strings.SplitN(got[i+len("SignedHeaders="):], ",", 2)[0], ";") {
				signed[h] = true
			}
		}
		resign := r.Clone(context.Background())
		for k := range resign.Header {
			if !signed[strings.ToLower(k)] || strings.EqualFold(k, "X-Amz-Date") {
				resign.Header.Del(k)
			}
		}
		resign.URL.Scheme, resign.URL.Host = "http", r.Host
		c, _ := creds.Retrieve(context.Background())
		if err := v4.NewSigner().SignHTTP(context.Background(), c, resign, body, "aps", "eu-west-1", at); err != nil {
			return err.Error()
		}
		if resign.Header.Get("Authorization") != got {
			return "signature mismatch"
		}
		verified++
		return ""
	})
	loads := 0
	p := prometheus.Provider{AWS: &awsauth.Identities{Load: func(_ context.Context, s v1alpha1.Sigv4Config) (awsauth.Identity, error) {
		loads++
		return awsauth.Identity{Credentials: aws.NewCredentialsCache(creds), Region: s.Region}, nil
	}}}
	out, err := p.Measure(t.Context(), analysis.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
		Address: amp.URL, Query: "queue_depth", Timeout: ptr.To[int64](10),
		Authentication: v1alpha1.Authentication{Sigv4: v1alpha1.Sigv4Config{Region: "eu-west-1"}},
	}}}})
	if err != nil || out.Text != "[42]" || verified == 0 {
		t.Fatalf("signed query: %s %v (verified %d)", out.Text, err, verified)
	}
	// The identity is loaded once and reused by later measurements.
	if _, err := p.Measure(t.Context(), analysis.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
		Address: amp.URL, Query: "queue_depth", Authentication: v1alpha1.Authentication{Sigv4: v1alpha1.Sigv4Config{Region: "eu-west-1"}},
	}}}}); err != nil || loads != 1 {
		t.Errorf("second signed query: %v; identity loaded %d times, want 1", err, loads)
	}
	// A role or a profile the controller was not told it may use: refused
	// before anything is loaded.
	for _, s := range []v1alpha1.Sigv4Config{
		{Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/admin"},
		{Region: "eu-west-1", Profile: "prod"},
	} {
		_, err := p.Measure(t.Context(), analysis.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
			Address: amp.URL, Query: "queue_depth", Authentication: v1alpha1.Authentication{Sigv4: s},
		}}}})
		if err == nil || !strings.Contains(err.Error(), "--aws-allowed-") || loads != 1 {
			t.Errorf("sigv4 %+v not allowed: %v (loads %d)", s, err, loads)
		}
	}
	p.AWS.AllowedRoles = []string{"arn:aws:iam::123456789012:role/admin"}
	if _, err := p.Measure(t.Context(), analysis.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
		Address: amp.URL, Query: "queue_depth", Authentication: v1alpha1.Authentication{Sigv4: v1alpha1.Sigv4Config{Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/admin"}},
	}}}}); err != nil {
		t.Errorf("an allowed role: %v", err)
	}
	// Signed with another secret key: refused.
	forged := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "not-the-secret", "")
	p.AWS = &awsauth.Identities{Load: func(_ context.Context, s v1alpha1.Sigv4Config) (awsauth.Identity, error) {
		return awsauth.Identity{Credentials: forged, Region: s.Region}, nil
	}}
	if _, err := p.Measure(t.Context(), analysis.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
		Address: amp.URL, Query: "queue_depth", Authentication: v1alpha1.Authentication{Sigv4: v1alpha1.Sigv4Config{Region: "eu-west-1"}},
	}}}}); err == nil {
		t.Error("a request signed with the wrong key was accepted")
	}
}

// vectorServer answers every query with a vector of n samples, as a
// Prometheus selecting n series would.
func vectorServer(n int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		for i := 0; i < n; i++ {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, `{"metric":{"i":"%d"},"value":[1700000000,"%d"]}`, i, i)
		}
		fmt.Fprint(w, `]}}`)
	}))
}

// A query that selects too much is an Error measurement that says why, not
// a value the controller builds and stores.
func TestHugeAnswersAreErrors(t *testing.T) {
	many := vectorServer(prometheus.MaxSamples + 1)
	defer many.Close()
	if _, err := measure(t.Context(), &v1alpha1.PrometheusMetric{Address: many.URL, Query: "up"}); err == nil || !strings.Contains(err.Error(), "at most 10000 are judged") {
		t.Errorf("%d samples: %v", prometheus.MaxSamples+1, err)
	}
	huge := vectorServer(100000) // about 5 MiB
	defer huge.Close()
	if _, err := measure(t.Context(), &v1alpha1.PrometheusMetric{Address: huge.URL, Query: "up"}); err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("a 5 MiB answer: %v", err)
	}
	fine := vectorServer(3)
	defer fine.Close()
	if out, err := measure(t.Context(), &v1alpha1.PrometheusMetric{Address: fine.URL, Query: "up"}); err != nil || out.Text != "[0,1,2]" {
		t.Errorf("3 samples: %q %v", out.Text, err)
	}
}
