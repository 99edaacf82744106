// Package prometheus is the Prometheus metric provider: an instant or range
// PromQL query through Prometheus' own Go API client, with basic auth,
// OAuth2 client credentials, or AWS Signature V4 for Amazon Managed Service
// for Prometheus.
package prometheus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"time"

	"github.com/expr-lang/expr"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
)

// AddressEnv names the environment variable that holds the address of
// metrics without one.
const AddressEnv = "RAMP_PROMETHEUS_ADDRESS"

// DefaultTimeout bounds a query without a timeout.
const DefaultTimeout = 30 * time.Second

// Provider queries Prometheus.
type Provider struct {
	// Signer signs requests for metrics with authentication.sigv4; nil
	// means the AWS default credential chain (IRSA, EKS Pod Identity,
	// environment, profile).
	Signer SignerFactory
	// Now is the time range expressions see as now(); nil is time.Now.
	Now func() time.Time
}

var _ analysis.Provider = Provider{}

// Type is "prometheus".
func (Provider) Type() string { return "prometheus" }

// Measure runs the query.
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	m := req.Metric.Provider.Prometheus
	address := m.Address
	if address == "" {
		address = os.Getenv(AddressEnv)
	}
	if address == "" {
		return analysis.Outcome{}, fmt.Errorf("prometheus: no address: set provider.prometheus.address or %s", AddressEnv)
	}
	timeout := DefaultTimeout
	if m.Timeout != nil && *m.Timeout > 0 {
		timeout = time.Duration(*m.Timeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt, err := p.transport(ctx, m)
	if err != nil {
		return analysis.Outcome{}, err
	}
	client, err := api.NewClient(api.Config{Address: address, RoundTripper: rt})
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("prometheus: %w", err)
	}
	q := promv1.NewAPI(client)
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	var value model.Value
	if r := m.RangeQuery; r != nil {
		rng, err := queryRange(r, now())
		if err != nil {
			return analysis.Outcome{}, err
		}
		value, _, err = q.QueryRange(ctx, m.Query, rng)
		if err != nil {
			return analysis.Outcome{}, fmt.Errorf("prometheus: range query %q: %w", m.Query, err)
		}
	} else {
		value, _, err = q.Query(ctx, m.Query, now())
		if err != nil {
			return analysis.Outcome{}, fmt.Errorf("prometheus: query %q: %w", m.Query, err)
		}
	}
	result, text := convert(value)
	return analysis.Outcome{Value: result, Text: text}, nil
}

// Resume is never needed: Measure completes.
func (p Provider) Resume(ctx context.Context, req analysis.Request, _ *v1alpha1.Measurement) (analysis.Outcome, error) {
	return p.Measure(ctx, req)
}

// Terminate has nothing to stop.
func (Provider) Terminate(context.Context, analysis.Request, *v1alpha1.Measurement) error { return nil }

// GarbageCollect has nothing to remove.
func (Provider) GarbageCollect(context.Context, analysis.Request, int) error { return nil }

// convert turns a query result into what conditions judge, as Argo
// Rollouts does: a scalar is a number; a vector a list of its samples'
// values (result[0] is the first series); a matrix a list of lists. The
// text is the same in JSON-like form.
func convert(v model.Value) (any, string) {
	switch x := v.(type) {
	case *model.Scalar:
		f := float64(x.Value)
		return f, formatFloat(f)
	case model.Vector:
		out := make([]any, len(x))
		text := "["
		for i, s := range x {
			f := float64(s.Value)
			out[i] = f
			if i > 0 {
				text += ","
			}
			text += formatFloat(f)
		}
		return out, text + "]"
	case model.Matrix:
		out := make([]any, len(x))
		text := "["
		for i, series := range x {
			vals := make([]any, len(series.Values))
			if i > 0 {
				text += ","
			}
			text += "["
			for j, s := range series.Values {
				vals[j] = float64(s.Value)
				if j > 0 {
					text += ","
				}
				text += formatFloat(float64(s.Value))
			}
			text += "]"
			out[i] = vals
		}
		return out, text + "]"
	case *model.String:
		return x.Value, x.Value
	}
	return nil, ""
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return fmt.Sprint(f)
}

// queryRange evaluates a range query's start and end (expressions such as
// now() - duration("10m")) and its step.
func queryRange(r *v1alpha1.PrometheusRangeQueryArgs, now time.Time) (promv1.Range, error) {
	env := map[string]any{
		"now":      func() time.Time { return now },
		"duration": time.ParseDuration,
	}
	at := func(field, src string, def time.Time) (time.Time, error) {
		if src == "" {
			return def, nil
		}
		out, err := expr.Eval(src, env)
		if err != nil {
			return time.Time{}, fmt.Errorf("prometheus: rangeQuery.%s %q: %w", field, src, err)
		}
		t, ok := out.(time.Time)
		if !ok {
			return time.Time{}, fmt.Errorf("prometheus: rangeQuery.%s %q is a %T, not a time", field, src, out)
		}
		return t, nil
	}
	end, err := at("end", r.End, now)
	if err != nil {
		return promv1.Range{}, err
	}
	start, err := at("start", r.Start, end.Add(-5*time.Minute))
	if err != nil {
		return promv1.Range{}, err
	}
	step := time.Minute
	if r.Step != "" {
		if step, err = time.ParseDuration(r.Step); err != nil || step <= 0 {
			return promv1.Range{}, fmt.Errorf("prometheus: rangeQuery.step %q is not a duration", r.Step)
		}
	}
	if !start.Before(end) {
		return promv1.Range{}, errors.New("prometheus: rangeQuery.start must come before its end")
	}
	return promv1.Range{Start: start, End: end, Step: step}, nil
}

// transport builds the round tripper: TLS, headers, and authentication.
func (p Provider) transport(ctx context.Context, m *v1alpha1.PrometheusMetric) (http.RoundTripper, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if m.Insecure {
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by the metric's insecure field
	}
	var rt http.RoundTripper = base
	auth := m.Authentication
	switch {
	case auth.Sigv4.Region != "" || auth.Sigv4.Profile != "" || auth.Sigv4.RoleARN != "":
		factory := p.Signer
		if factory == nil {
			factory = DefaultSigner
		}
		signed, err := factory(ctx, auth.Sigv4, rt)
		if err != nil {
			return nil, fmt.Errorf("prometheus: sigv4: %w", err)
		}
		rt = signed
	case auth.OAuth2.TokenURL != "":
		cc := clientcredentials.Config{ClientID: auth.OAuth2.ClientID, ClientSecret: auth.OAuth2.ClientSecret, TokenURL: auth.OAuth2.TokenURL, Scopes: auth.OAuth2.Scopes}
		rt = &oauth2.Transport{Source: cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: base})), Base: rt}
	case auth.BasicAuth.Username != "":
		rt = basicAuth{user: auth.BasicAuth.Username, password: auth.BasicAuth.Password, next: rt}
	}
	if len(m.Headers) > 0 {
		rt = headers{headers: m.Headers, next: rt}
	}
	return rt, nil
}

type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}

type headers struct {
	headers []v1alpha1.WebMetricHeader
	next    http.RoundTripper
}

func (h headers) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for _, kv := range h.headers {
		r.Header.Set(kv.Key, kv.Value)
	}
	return h.next.RoundTrip(r)
}
