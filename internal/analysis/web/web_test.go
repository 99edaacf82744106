package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
)

func measure(t *testing.T, w *v1alpha1.WebMetric) (analysis.Outcome, error) {
	t.Helper()
	return Provider{}.Measure(t.Context(), analysis.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Web: w}}})
}

func TestGetWithJSONPath(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("X-Team") != "web" || r.Host != "api.internal" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"data": {"ok": true, "rate": 0.97, "pods": [1, 2]}}`)
	}))
	defer srv.Close()
	for _, c := range []struct {
		path string
		want any
		text string
	}{
		{"{$.data.rate}", 0.97, "0.97"},
		{"{.data.ok}", true, "true"},
		{"{.data.pods[*]}", []any{1.0, 2.0}, "[1,2]"},
	} {
		out, err := measure(t, &v1alpha1.WebMetric{URL: srv.URL, JSONPath: c.path, Headers: []v1alpha1.WebMetricHeader{{Key: "X-Team", Value: "web"}, {Key: "Host", Value: "api.internal"}}})
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if fmt.Sprint(out.Value) != fmt.Sprint(c.want) || out.Text != c.text {
			t.Errorf("%s: value %v (%q), want %v (%q)", c.path, out.Value, out.Text, c.want, c.text)
		}
	}
	// The whole document without a jsonPath, judged by a condition.
	out, err := measure(t, &v1alpha1.WebMetric{URL: srv.URL, Headers: []v1alpha1.WebMetricHeader{{Key: "X-Team", Value: "web"}, {Key: "Host", Value: "api.internal"}}})
	if err != nil {
		t.Fatal(err)
	}
	cond, _ := analysis.Compile("result.data.rate > 0.95")
	if phase, err := analysis.Judge(out.Value, cond, nil); phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("judged %s, %v", phase, err)
	}
}

func TestPostAndPutSendTheirBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "type": r.Header.Get("Content-Type"), "body": string(body)})
	}))
	defer srv.Close()
	out, err := measure(t, &v1alpha1.WebMetric{Method: "POST", URL: srv.URL, JSONBody: json.RawMessage(`{"q":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	got := out.Value.(map[string]any)
	if got["method"] != "POST" || got["type"] != "application/json" || got["body"] != `{"q":"x"}` {
		t.Errorf("POST: %v", got)
	}
	out, err = measure(t, &v1alpha1.WebMetric{Method: "PUT", URL: srv.URL, Body: "plain"})
	if err != nil || out.Value.(map[string]any)["body"] != "plain" || out.Value.(map[string]any)["method"] != "PUT" {
		t.Errorf("PUT: %v %v", out.Value, err)
	}
}

func TestANonJSONBodyIsAString(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "healthy\n") }))
	defer srv.Close()
	out, err := measure(t, &v1alpha1.WebMetric{URL: srv.URL})
	if err != nil || out.Value != "healthy" {
		t.Fatalf("value %v, %v", out.Value, err)
	}
	cond, _ := analysis.Compile("result == 'healthy'")
	if phase, _ := analysis.Judge(out.Value, cond, nil); phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("judged %s", phase)
	}
}

// Failures are errors with their cause, never a value to judge.
func TestFailuresAreErrorsWithTheirCause(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "database down", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	jsonSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"a":1}`) }))
	defer jsonSrv.Close()
	for _, c := range []struct {
		name string
		w    *v1alpha1.WebMetric
		want string
	}{
		{"5xx", &v1alpha1.WebMetric{URL: failing.URL}, "503 Service Unavailable: database down"},
		{"timeout", &v1alpha1.WebMetric{URL: slow.URL, TimeoutSeconds: 1}, "deadline exceeded"},
		{"unreachable", &v1alpha1.WebMetric{URL: closed.URL}, "connection refused"},
		{"jsonPath selects nothing", &v1alpha1.WebMetric{URL: jsonSrv.URL, JSONPath: "{.b}"}, "is not found"},
		{"bad jsonPath", &v1alpha1.WebMetric{URL: jsonSrv.URL, JSONPath: "{.a["}, `jsonPath "{.a["`},
	} {
		_, err := measure(t, c.w)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func TestInsecureAndOAuth2(t *testing.T) {
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, _ := r.BasicAuth()
		if r.Form.Get("grant_type") != "client_credentials" || id != "ramp" || secret != "s3cret" || r.Form.Get("scope") != "metrics" {
			http.Error(w, "bad client", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok123","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokens.Close()
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok123" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer api.Close()
	w := &v1alpha1.WebMetric{URL: api.URL, JSONPath: "{.ok}", Insecure: true,
		Authentication: v1alpha1.Authentication{OAuth2: v1alpha1.OAuth2Config{TokenURL: tokens.URL, ClientID: "ramp", ClientSecret: "s3cret", Scopes: []string{"metrics"}}}}
	out, err := measure(t, w)
	if err != nil || out.Value != true {
		t.Fatalf("value %v, %v", out.Value, err)
	}
	w.Insecure = false
	if _, err := measure(t, w); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a self-signed certificate without insecure: %v", err)
	}
}

func FuzzSelectNeverPanics(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,2]}}`), "{.a.b[0]}")
	f.Add([]byte(`not json`), "{.x}")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		_, _, _ = Select(data, path)
	})
}
