package skywalking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// DefaultTimeout bounds a measurement.
const DefaultTimeout = 30 * time.Second

// timeLayout is SkyWalking's minute-step time: 2026-12-02 1504.
const timeLayout = "2006-01-02 1504"

// Provider runs SkyWalking metrics.
type Provider struct {
	// HTTP is how the OAP server is reached; nil is fetch.Shared().
	HTTP *fetch.Client
	// Clock gives the end of the window; nil is the wall clock.
	Clock interface{ Now() time.Time }
}

var _ analysis.Provider = Provider{}

// Type is "skywalking".
func (Provider) Type() string { return "skywalking" }

// Measure runs the query once over [now-interval, now].
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	m := req.Metric.Provider.SkyWalking
	if m.Interval == "" {
		return analysis.Outcome{}, errors.New("skywalking: interval is required: the window the query's $duration covers, such as 5m")
	}
	window, err := time.ParseDuration(string(m.Interval))
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("skywalking: interval %q: %w", m.Interval, err)
	}
	base, err := url.Parse(m.Address)
	if m.Address == "" || err != nil || base.Scheme == "" || base.Host == "" {
		return analysis.Outcome{}, fmt.Errorf("skywalking: address %q is not a URL such as http://skywalking-oap:12800", m.Address)
	}
	now := time.Now()
	if p.Clock != nil {
		now = p.Clock.Now()
	}
	now = now.In(time.Local)
	body, err := json.Marshal(map[string]any{
		"query": m.Query,
		"variables": map[string]any{"duration": map[string]string{
			"start": now.Add(-window).Format(timeLayout), "end": now.Format(timeLayout), "step": "MINUTE",
		}},
	})
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("skywalking: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(m.Address, "/")+"/graphql", bytes.NewReader(body))
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("skywalking: %w", err)
	}
	httpReq.Header.Set("Content-Type", "application/json; charset=utf-8")
	httpReq.Header.Set("Accept", "application/json; charset=utf-8")
	c := p.HTTP
	if c == nil {
		c = fetch.Shared()
	}
	resp, data, err := c.Do(httpReq)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("skywalking: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return analysis.Outcome{}, fmt.Errorf("skywalking: /graphql answered %s: %s", resp.Status, fetch.Snippet(data))
	}
	var answer struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return analysis.Outcome{}, fmt.Errorf("skywalking: the answer is not JSON: %w", err)
	}
	if len(answer.Errors) > 0 {
		return analysis.Outcome{}, fmt.Errorf("skywalking: graphql: %s", answer.Errors[0].Message)
	}
	if len(answer.Data) == 0 || string(answer.Data) == "null" {
		return analysis.Outcome{}, errors.New("skywalking: no results returned from the query")
	}
	var value any
	if err := json.Unmarshal(answer.Data, &value); err != nil {
		return analysis.Outcome{}, fmt.Errorf("skywalking: %w", err)
	}
	text, _ := json.Marshal(value)
	return analysis.Outcome{Value: value, Text: string(text)}, nil
}

// Resume is never needed: Measure completes.
func (p Provider) Resume(ctx context.Context, req analysis.Request, _ *v1alpha1.Measurement) (analysis.Outcome, error) {
	return p.Measure(ctx, req)
}

// Terminate has nothing to stop.
func (Provider) Terminate(context.Context, analysis.Request, *v1alpha1.Measurement) error { return nil }

// GarbageCollect has nothing to remove.
func (Provider) GarbageCollect(context.Context, analysis.Request, int) error { return nil }
