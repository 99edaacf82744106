package analysis

import (
	"context"
	"fmt"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Request is what a provider gets to take one measurement.
type Request struct {
	// Run is the AnalysisRun being measured.
	Run *v1alpha1.AnalysisRun
	// Metric is the metric, its {{args.x}} placeholders substituted.
	Metric v1alpha1.Metric
}

// Outcome is what a provider measured.
type Outcome struct {
	// Value is the result the metric's conditions judge: a number, a list
	// (a Prometheus vector), a map or a string. Providers that decide the
	// phase themselves (a Job) leave it nil and set Phase.
	Value any
	// Phase, when set, is the measurement's phase; the conditions are not
	// consulted.
	Phase v1alpha1.AnalysisPhase
	// Text is the value as the run's status shows it.
	Text string
	// Metadata is kept with the measurement (the query as sent, a Job's
	// name).
	Metadata map[string]string
	// Running means the measurement is not finished: the controller asks
	// again (Resume) after Poll.
	Running bool
	// Poll is how soon a running measurement is looked at again.
	Poll time.Duration
}

// Provider takes measurements. Prometheus and Web measurements complete in
// Measure; a Job runs for a while and is polled with Resume. An error is an
// Error measurement with the error as its message, never a success.
type Provider interface {
	// Type is the provider block's name: prometheus, web, job...
	Type() string
	// Measure starts (and, for most providers, completes) a measurement.
	Measure(ctx context.Context, req Request) (Outcome, error)
	// Resume looks at a running measurement again.
	Resume(ctx context.Context, req Request, m *v1alpha1.Measurement) (Outcome, error)
	// Terminate stops a running measurement (the run is terminating).
	Terminate(ctx context.Context, req Request, m *v1alpha1.Measurement) error
	// GarbageCollect removes what the measurements beyond the newest keep
	// left behind (a Job's pods).
	GarbageCollect(ctx context.Context, req Request, keep int) error
}

// Registry holds the providers the controller was built with, by type. It
// is filled explicitly at start-up; nothing registers itself.
type Registry struct {
	providers map[string]Provider
}

// NewRegistry holds providers.
func NewRegistry(providers ...Provider) *Registry {
	r := &Registry{providers: map[string]Provider{}}
	for _, p := range providers {
		r.providers[p.Type()] = p
	}
	return r
}

// For is the provider of a metric, by the provider block it sets.
func (r *Registry) For(m v1alpha1.Metric) (Provider, error) {
	t := ProviderType(m.Provider)
	if t == "" {
		return nil, fmt.Errorf("metric %s: no provider is set", m.Name)
	}
	p, ok := r.providers[t]
	if !ok {
		return nil, fmt.Errorf("metric %s: the %s provider is not available in this controller yet", m.Name, t)
	}
	return p, nil
}

// ProviderType names the provider block a metric sets, or "".
func ProviderType(p v1alpha1.MetricProvider) string {
	switch {
	case p.Prometheus != nil:
		return "prometheus"
	case p.Web != nil:
		return "web"
	case p.Job != nil:
		return "job"
	case p.Datadog != nil:
		return "datadog"
	case p.NewRelic != nil:
		return "newRelic"
	case p.Wavefront != nil:
		return "wavefront"
	case p.Kayenta != nil:
		return "kayenta"
	case p.CloudWatch != nil:
		return "cloudWatch"
	case p.Graphite != nil:
		return "graphite"
	case p.Influxdb != nil:
		return "influxdb"
	case p.SkyWalking != nil:
		return "skywalking"
	case p.Plugin != nil:
		return "plugin"
	}
	return ""
}
