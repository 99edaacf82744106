// Package prometheus is the Prometheus metric provider: an instant or range
// PromQL query through Prometheus' own Go API client, with basic auth,
// OAuth2 client credentials, or AWS Signature V4 for Amazon Managed Service
// for Prometheus.
package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/awsauth"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// AddressEnv names the environment variable that holds the address of
// metrics without one.
const AddressEnv = "RAMP_PROMETHEUS_ADDRESS"

// DefaultTimeout bounds a query without a timeout.
const DefaultTimeout = 30 * time.Second

// Provider queries Prometheus.
type Provider struct {
	// HTTP is how Prometheus is reached; nil is fetch.Shared().
	HTTP *fetch.Client
	// AWS finds the identity of metrics with authentication.sigv4; nil
	// allows the controller's own identity only.
	AWS *awsauth.Identities
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
	result, text, err := convert(value)
	if err != nil {
		return analysis.Outcome{}, err
	}
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

// MaxSamples bounds the samples of an answer the conditions judge (a
// vector's elements, a matrix's points): past it the measurement is an
// Error, so that a query that selects every series of a cluster cannot
// make the controller build huge values.
const MaxSamples = 10000

// convert turns a query result into what conditions judge, as Argo
// Rollouts does: a scalar is a number; a vector a list of its samples'
// values (result[0] is the first series); a matrix a list of lists. The
// text is the same in JSON-like form, built in one pass.
func convert(v model.Value) (any, string, error) {
	tooMany := func(n int) error {
		return fmt.Errorf("prometheus: the query returned %d samples; at most %d are judged: aggregate it (sum, max, topk...)", n, MaxSamples)
	}
	var b strings.Builder
	switch x := v.(type) {
	case *model.Scalar:
		f := float64(x.Value)
		return f, formatFloat(f), nil
	case model.Vector:
		if len(x) > MaxSamples {
			return nil, "", tooMany(len(x))
		}
		out := make([]any, len(x))
		b.WriteByte('[')
		for i, s := range x {
			f := float64(s.Value)
			out[i] = f
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(formatFloat(f))
		}
		b.WriteByte(']')
		return out, b.String(), nil
	case model.Matrix:
		n := 0
		for _, series := range x {
			n += len(series.Values)
		}
		if n > MaxSamples {
			return nil, "", tooMany(n)
		}
		out := make([]any, len(x))
		b.WriteByte('[')
		for i, series := range x {
			vals := make([]any, len(series.Values))
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('[')
			for j, s := range series.Values {
				vals[j] = float64(s.Value)
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(formatFloat(float64(s.Value)))
			}
			b.WriteByte(']')
			out[i] = vals
		}
		b.WriteByte(']')
		return out, b.String(), nil
	case *model.String:
		return x.Value, x.Value, nil
	}
	return nil, "", nil
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

var ownIdentity = &awsauth.Identities{}

// transport builds the round tripper: the shared transport, headers, and
// authentication.
func (p Provider) transport(ctx context.Context, m *v1alpha1.PrometheusMetric) (http.RoundTripper, error) {
	c := p.HTTP
	if c == nil {
		c = fetch.Shared()
	}
	rt := c.Transport(m.Insecure)
	auth := m.Authentication
	switch {
	case auth.Sigv4.Region != "" || auth.Sigv4.Profile != "" || auth.Sigv4.RoleARN != "":
		ids := p.AWS
		if ids == nil {
			ids = ownIdentity
		}
		id, err := ids.For(ctx, auth.Sigv4)
		if err != nil {
			return nil, fmt.Errorf("prometheus: %w", err)
		}
		rt = NewSigV4(id.Credentials, id.Region, rt, time.Now)
	case auth.OAuth2.TokenURL != "":
		rt = c.WithOAuth2(fetch.OAuth2{TokenURL: auth.OAuth2.TokenURL, ClientID: auth.OAuth2.ClientID, ClientSecret: auth.OAuth2.ClientSecret,
			Scopes: auth.OAuth2.Scopes, Insecure: m.Insecure}, rt)
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
