package wavefront

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// Secret holds one token per Wavefront address (key: the address).
const Secret = "wavefront-api-tokens"

// DefaultTimeout bounds a measurement.
const DefaultTimeout = 10 * time.Second

// Provider runs Wavefront metrics.
type Provider struct {
	// HTTP is how Wavefront is reached; nil is fetch.Shared().
	HTTP *fetch.Client
	// Credentials reads the wavefront-api-tokens Secret.
	Credentials analysis.Credentials
	// Clock gives the measurement's time; nil is the wall clock.
	Clock interface{ Now() time.Time }
}

var _ analysis.Provider = Provider{}

// Type is "wavefront".
func (Provider) Type() string { return "wavefront" }

// Measure runs the query once, for the measurement's start.
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	m := req.Metric.Provider.Wavefront
	if m.Address == "" {
		return analysis.Outcome{}, errors.New("wavefront: address is required, such as example.wavefront.com")
	}
	tokens, err := p.Credentials.Secret(ctx, "", Secret)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("wavefront: %w", err)
	}
	token := tokens[m.Address]
	if token == "" {
		return analysis.Outcome{}, fmt.Errorf("wavefront: Secret %s has no token for %s (its keys are addresses)", Secret, m.Address)
	}
	redact := analysis.NewRedactor(token)
	out, err := p.query(ctx, m, token)
	if err != nil {
		return analysis.Outcome{}, errors.New(redact.Redact(err.Error()))
	}
	return out, nil
}

// base is the API's root: https://address/, or address itself when it
// has a scheme.
func base(address string) (*url.URL, error) {
	raw := address
	if !strings.Contains(address, "://") {
		raw = "https://" + address
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("wavefront: address %q is not a host name such as example.wavefront.com", address)
	}
	return u, nil
}

func (p Provider) query(ctx context.Context, m *v1alpha1.WavefrontMetric, token string) (analysis.Outcome, error) {
	u, err := base(m.Address)
	if err != nil {
		return analysis.Outcome{}, err
	}
	start := time.Now()
	if p.Clock != nil {
		start = p.Clock.Now()
	}
	ms := strconv.FormatInt(start.UnixMilli(), 10)
	u.Path = strings.TrimRight(u.Path, "/") + "/api/v2/chart/api"
	u.RawQuery = url.Values{
		"q": {m.Query}, "s": {ms}, "e": {ms}, "g": {"s"}, "p": {"1"}, "i": {"true"},
		"autoEvents": {"false"}, "listmode": {"false"}, "strict": {"false"}, "includeObsoleteMetrics": {"false"},
	}.Encode()
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("wavefront: %w", err)
	}
	httpReq.Header.Set("Authorization", "Bearer "+token)
	httpReq.Header.Set("Accept", "application/json")
	c := p.HTTP
	if c == nil {
		c = fetch.Shared()
	}
	resp, data, err := c.Do(httpReq)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("wavefront: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return analysis.Outcome{}, fmt.Errorf("wavefront: %s answered %s: %s", u.Path, resp.Status, fetch.Snippet(data))
	}
	return parse(data, start)
}

// parse picks, in each series, the point closest to start.
func parse(data []byte, start time.Time) (analysis.Outcome, error) {
	var answer struct {
		Warnings   string `json:"warnings"`
		TimeSeries []struct {
			Data [][]float64 `json:"data"`
		} `json:"timeseries"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return analysis.Outcome{}, fmt.Errorf("wavefront: the answer is not a chart answer: %w", err)
	}
	meta := map[string]string{}
	if answer.Warnings != "" {
		meta["warnings"] = answer.Warnings
	}
	if len(answer.TimeSeries) == 0 {
		return analysis.Outcome{Metadata: meta}, errors.New("wavefront: no time series found in the answer")
	}
	at := float64(start.Unix())
	var values []float64
	var texts, stamps, drifts []string
	for _, ts := range answer.TimeSeries {
		v, when, best := 0.0, 0.0, math.Inf(1)
		for _, point := range ts.Data {
			if len(point) != 2 {
				continue
			}
			if d := math.Abs(point[0] - at); d < best {
				best, when, v = d, point[0], point[1]
			}
		}
		values = append(values, v)
		texts = append(texts, fmt.Sprintf("%.2f", v))
		stamps = append(stamps, strconv.FormatInt(int64(when), 10))
		drifts = append(drifts, strconv.FormatInt(int64(when-at), 10))
	}
	if len(values) == 1 {
		meta["timestamps"], meta["drift"] = stamps[0], drifts[0]
		return analysis.Outcome{Value: values[0], Text: texts[0], Metadata: meta}, nil
	}
	meta["timestamps"] = "[" + strings.Join(stamps, ",") + "]"
	meta["drift"] = "[" + strings.Join(drifts, ",") + "]"
	return analysis.Outcome{Value: values, Text: "[" + strings.Join(texts, ",") + "]", Metadata: meta}, nil
}

// Resume is never needed: Measure completes.
func (p Provider) Resume(ctx context.Context, req analysis.Request, _ *v1alpha1.Measurement) (analysis.Outcome, error) {
	return p.Measure(ctx, req)
}

// Terminate has nothing to stop.
func (Provider) Terminate(context.Context, analysis.Request, *v1alpha1.Measurement) error { return nil }

// GarbageCollect has nothing to remove.
func (Provider) GarbageCollect(context.Context, analysis.Request, int) error { return nil }
