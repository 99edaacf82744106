package graphite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// DefaultTimeout bounds a measurement.
const DefaultTimeout = 10 * time.Second

// Provider runs Graphite metrics.
type Provider struct {
	// HTTP is how Graphite is reached; nil is fetch.Shared().
	HTTP *fetch.Client
}

var _ analysis.Provider = Provider{}

// Type is "graphite".
func (Provider) Type() string { return "graphite" }

var space = regexp.MustCompile(`\s+`)

// URL is the render URL of a block: the query without whitespace (so it
// may be written over several lines), format=json.
func URL(m *v1alpha1.GraphiteMetric) (*url.URL, error) {
	base, err := url.Parse(m.Address)
	if m.Address == "" || err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("graphite: address %q is not a URL such as http://graphite:8080", m.Address)
	}
	q, err := url.ParseQuery(space.ReplaceAllString(m.Query, ""))
	if err != nil {
		return nil, fmt.Errorf("graphite: query: %w", err)
	}
	if len(q["target"]) == 0 {
		return nil, errors.New("graphite: the query has no target= (it is a render query string, such as target=sumSeries(app.*.errors)&from=-5min)")
	}
	q.Set("format", "json")
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + "/render"
	u.RawQuery = q.Encode()
	return &u, nil
}

// Measure runs the query once.
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	u, err := URL(req.Metric.Provider.Graphite)
	if err != nil {
		return analysis.Outcome{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("graphite: %w", err)
	}
	c := p.HTTP
	if c == nil {
		c = fetch.Shared()
	}
	resp, data, err := c.Do(httpReq)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("graphite: %w", err)
	}
	if resp.StatusCode >= 400 {
		return analysis.Outcome{}, fmt.Errorf("graphite: %s answered %s: %s", u.Path, resp.Status, fetch.Snippet(data))
	}
	return Parse(data)
}

// Parse reads a render answer: the non-null values of the first target.
func Parse(data []byte) (analysis.Outcome, error) {
	var targets []struct {
		Target     string              `json:"target"`
		Datapoints [][]json.RawMessage `json:"datapoints"`
	}
	if err := json.Unmarshal(data, &targets); err != nil {
		return analysis.Outcome{}, fmt.Errorf("graphite: the answer is not a render answer: %w", err)
	}
	if len(targets) == 0 || len(targets[0].Datapoints) == 0 {
		return analysis.Outcome{}, errors.New("graphite: no values found")
	}
	values := []float64{}
	for _, point := range targets[0].Datapoints {
		if len(point) != 2 {
			return analysis.Outcome{}, fmt.Errorf("graphite: a datapoint has %d elements, not [value, timestamp]", len(point))
		}
		v, ok, err := number(point[0])
		if err != nil {
			return analysis.Outcome{}, fmt.Errorf("graphite: a datapoint's value: %w", err)
		}
		if ok {
			values = append(values, v)
		}
	}
	texts := make([]string, len(values))
	for i, v := range values {
		texts[i] = fmt.Sprintf("%f", v)
	}
	return analysis.Outcome{Value: values, Text: "[" + strings.Join(texts, ",") + "]"}, nil
}

// number reads a value: a number, a numeric string, or null (ok false).
func number(raw json.RawMessage) (float64, bool, error) {
	if string(raw) == "null" {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, true, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%q is not a number", s)
		}
		return f, true, nil
	}
	return 0, false, fmt.Errorf("%s is not a number", fetch.Snippet(raw))
}

// Resume is never needed: Measure completes.
func (p Provider) Resume(ctx context.Context, req analysis.Request, _ *v1alpha1.Measurement) (analysis.Outcome, error) {
	return p.Measure(ctx, req)
}

// Terminate has nothing to stop.
func (Provider) Terminate(context.Context, analysis.Request, *v1alpha1.Measurement) error { return nil }

// GarbageCollect has nothing to remove.
func (Provider) GarbageCollect(context.Context, analysis.Request, int) error { return nil }
