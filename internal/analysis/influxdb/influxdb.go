package influxdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// Defaults of a measurement.
const (
	// DefaultProfile is the Secret read without profile.
	DefaultProfile = "influxdb"
	// DefaultTimeout bounds a query.
	DefaultTimeout = 30 * time.Second
	// MaxRecords bounds the records one answer may hold.
	MaxRecords = 10000
)

// Provider runs InfluxDB metrics.
type Provider struct {
	// HTTP is how InfluxDB is reached; nil is fetch.Shared().
	HTTP *fetch.Client
	// Credentials reads the profile's Secret.
	Credentials analysis.Credentials
}

var _ analysis.Provider = Provider{}

// Type is "influxdb".
func (Provider) Type() string { return "influxdb" }

// Measure runs the Flux query once.
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	m := req.Metric.Provider.Influxdb
	profile := m.Profile
	if profile == "" {
		profile = DefaultProfile
	}
	data, err := p.Credentials.Secret(ctx, "", profile)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("influxdb: %w", err)
	}
	address, token, org := data["address"], data["authToken"], data["org"]
	if address == "" || token == "" || org == "" {
		return analysis.Outcome{}, fmt.Errorf("influxdb: Secret %s needs the keys address, authToken and org", profile)
	}
	if u, err := url.Parse(address); err != nil || u.Scheme == "" || u.Host == "" {
		return analysis.Outcome{}, fmt.Errorf("influxdb: Secret %s: address %q is not a URL such as http://influxdb:8086", profile, address)
	}
	redact := analysis.NewRedactor(token)
	out, err := p.query(ctx, address, token, org, m.Query)
	if err != nil {
		return analysis.Outcome{}, errors.New(redact.Redact(err.Error()))
	}
	return out, nil
}

func (p Provider) query(ctx context.Context, address, token, org, flux string) (analysis.Outcome, error) {
	c := p.HTTP
	if c == nil {
		c = fetch.Shared()
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	opts := influxdb2.DefaultOptions().
		SetHTTPClient(&http.Client{Transport: c.Transport(false)}).
		SetApplicationName("ramp").
		SetLogLevel(0)
	client := influxdb2.NewClientWithOptions(address, token, opts)
	defer client.Close()
	result, err := client.QueryAPI(org).Query(ctx, flux)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("influxdb: %w", err)
	}
	defer result.Close()
	values := []any{}
	for result.Next() {
		if len(values) == MaxRecords {
			return analysis.Outcome{}, fmt.Errorf("influxdb: the query answered more than %d records; aggregate it", MaxRecords)
		}
		values = append(values, result.Record().Value())
	}
	if err := result.Err(); err != nil {
		return analysis.Outcome{}, fmt.Errorf("influxdb: reading the answer: %w", err)
	}
	if len(values) == 0 {
		return analysis.Outcome{}, errors.New("influxdb: no results returned from the Flux query")
	}
	return analysis.Outcome{Value: values, Text: fmt.Sprint(values)}, nil
}

// Resume is never needed: Measure completes.
func (p Provider) Resume(ctx context.Context, req analysis.Request, _ *v1alpha1.Measurement) (analysis.Outcome, error) {
	return p.Measure(ctx, req)
}

// Terminate has nothing to stop.
func (Provider) Terminate(context.Context, analysis.Request, *v1alpha1.Measurement) error { return nil }

// GarbageCollect has nothing to remove.
func (Provider) GarbageCollect(context.Context, analysis.Request, int) error { return nil }
