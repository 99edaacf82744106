package kayenta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// Defaults of a measurement.
const (
	// Poll is how often a judgement under way is looked at.
	Poll = 15 * time.Second
	// DefaultTimeout bounds each request.
	DefaultTimeout = 15 * time.Second
	// ExecutionKey is the measurement metadata holding the judgement's id.
	ExecutionKey = "canaryExecutionId"
)

// Provider runs Kayenta metrics.
type Provider struct {
	// HTTP is how Kayenta is reached; nil is fetch.Shared().
	HTTP *fetch.Client
	// Clock gives the end of the scopes' window; nil is the wall clock.
	Clock interface{ Now() time.Time }
}

var _ analysis.Provider = Provider{}

// Type is "kayenta".
func (Provider) Type() string { return "kayenta" }

func (p Provider) do(ctx context.Context, method, u string, body any, out any) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	var reader *bytes.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	var req *http.Request
	var err error
	if reader != nil {
		req, err = http.NewRequestWithContext(ctx, method, u, reader)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := p.HTTP
	if c == nil {
		c = fetch.Shared()
	}
	resp, data, err := c.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s answered %s: %s", method, req.URL.Path, resp.Status, fetch.Snippet(data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not JSON: %w", method, req.URL.Path, err)
	}
	return nil
}

// Measure finds the configuration and starts a judgement; the measurement
// is Running until Resume finds it complete.
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	k := req.Metric.Provider.Kayenta
	base := strings.TrimRight(k.Address, "/")
	if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" {
		return analysis.Outcome{}, fmt.Errorf("kayenta: address %q is not a URL such as http://kayenta:8090", k.Address)
	}
	scopes, err := p.scopes(req)
	if err != nil {
		return analysis.Outcome{}, err
	}
	configAccount := k.ConfigurationAccountName
	if configAccount == "" {
		configAccount = k.StorageAccountName
	}
	var configs []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	q := url.Values{"application": {k.Application}, "configurationAccountName": {configAccount}}
	if err := p.do(ctx, http.MethodGet, base+"/canaryConfig?"+q.Encode(), nil, &configs); err != nil {
		return analysis.Outcome{}, fmt.Errorf("kayenta: listing canary configurations: %w", err)
	}
	id := ""
	for _, c := range configs {
		if c.Name == k.CanaryConfigName {
			id = c.ID
			break
		}
	}
	if id == "" {
		return analysis.Outcome{}, fmt.Errorf("kayenta: canary configuration %q not found for application %q", k.CanaryConfigName, k.Application)
	}
	q = url.Values{"application": {k.Application}, "metricsAccountName": {k.MetricsAccountName},
		"configurationAccountName": {configAccount}, "storageAccountName": {k.StorageAccountName}}
	body := map[string]any{"scopes": scopes, "thresholds": map[string]int64{"pass": k.Threshold.Pass, "marginal": k.Threshold.Marginal}}
	var started struct {
		ID string `json:"canaryExecutionId"`
	}
	if err := p.do(ctx, http.MethodPost, base+"/canary/"+url.PathEscape(id)+"?"+q.Encode(), body, &started); err != nil {
		return analysis.Outcome{}, fmt.Errorf("kayenta: starting a judgement: %w", err)
	}
	if started.ID == "" {
		return analysis.Outcome{}, errors.New("kayenta: the judgement was started without a canaryExecutionId")
	}
	return analysis.Outcome{Running: true, Poll: Poll, Metadata: map[string]string{ExecutionKey: started.ID}}, nil
}

type scopeDetail struct {
	Scope    string `json:"scope"`
	Location string `json:"location"`
	Step     int64  `json:"step"`
	Start    string `json:"start,omitempty"`
	End      string `json:"end,omitempty"`
}

// scopes are the request's scopes: their own start and end, or, when both
// leave them out, [now - the metric's interval, now], or from the run's
// start with lookback.
func (p Provider) scopes(req analysis.Request) (map[string]any, error) {
	k := req.Metric.Provider.Kayenta
	now := time.Now()
	if p.Clock != nil {
		now = p.Clock.Now()
	}
	out := map[string]any{}
	for i, s := range k.Scopes {
		c, e := s.ControlScope, s.ExperimentScope
		if (c.Start == "") != (e.Start == "") {
			return nil, fmt.Errorf("kayenta: scopes[%d]: controlScope.start and experimentScope.start must both be set or both be empty", i)
		}
		if (c.End == "") != (e.End == "") {
			return nil, fmt.Errorf("kayenta: scopes[%d]: controlScope.end and experimentScope.end must both be set or both be empty", i)
		}
		control := scopeDetail{Scope: c.Scope, Location: c.Region, Step: c.Step, Start: c.Start, End: c.End}
		experiment := scopeDetail{Scope: e.Scope, Location: e.Region, Step: e.Step, Start: e.Start, End: e.End}
		if c.Start == "" && c.End == "" {
			var start time.Time
			switch {
			case k.Lookback && req.Run != nil && req.Run.Status.StartedAt != nil:
				start = req.Run.Status.StartedAt.Time
			case req.Metric.Interval != "":
				d, err := time.ParseDuration(string(req.Metric.Interval))
				if err != nil {
					return nil, fmt.Errorf("kayenta: the metric's interval %q: %w", req.Metric.Interval, err)
				}
				start = now.Add(-d)
			default:
				return nil, fmt.Errorf("kayenta: scopes[%d] set no start and end: the metric needs an interval (the window judged), or lookback", i)
			}
			for _, d := range []*scopeDetail{&control, &experiment} {
				d.Start, d.End = start.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)
			}
		}
		out[s.Name] = map[string]any{"controlScope": control, "experimentScope": experiment}
	}
	return out, nil
}

// Resume looks at the judgement: still running, or its score judged
// against the thresholds.
func (p Provider) Resume(ctx context.Context, req analysis.Request, m *v1alpha1.Measurement) (analysis.Outcome, error) {
	k := req.Metric.Provider.Kayenta
	id := m.Metadata[ExecutionKey]
	if id == "" {
		return analysis.Outcome{}, errors.New("kayenta: the measurement has no canaryExecutionId to look at")
	}
	var execution struct {
		Complete *bool `json:"complete"`
		Result   struct {
			JudgeResult struct {
				Score struct {
					Score *float64 `json:"score"`
				} `json:"score"`
			} `json:"judgeResult"`
		} `json:"result"`
	}
	if err := p.do(ctx, http.MethodGet, strings.TrimRight(k.Address, "/")+"/canary/"+url.PathEscape(id), nil, &execution); err != nil {
		return analysis.Outcome{}, fmt.Errorf("kayenta: judgement %s: %w", id, err)
	}
	meta := map[string]string{ExecutionKey: id}
	if execution.Complete == nil {
		return analysis.Outcome{}, fmt.Errorf("kayenta: judgement %s: the answer says nothing of complete", id)
	}
	if !*execution.Complete {
		return analysis.Outcome{Running: true, Poll: Poll, Metadata: meta}, nil
	}
	s := execution.Result.JudgeResult.Score.Score
	if s == nil {
		return analysis.Outcome{}, fmt.Errorf("kayenta: judgement %s is complete without a score", id)
	}
	score := int64(*s)
	phase := v1alpha1.AnalysisPhaseFailed
	switch {
	case score >= k.Threshold.Pass:
		phase = v1alpha1.AnalysisPhaseSuccessful
	case score >= k.Threshold.Marginal:
		phase = v1alpha1.AnalysisPhaseInconclusive
	}
	return analysis.Outcome{Phase: phase, Text: strconv.FormatInt(score, 10), Metadata: meta}, nil
}

// Terminate leaves the judgement to end on its own: Kayenta has no way to
// cancel one.
func (Provider) Terminate(context.Context, analysis.Request, *v1alpha1.Measurement) error { return nil }

// GarbageCollect has nothing to remove.
func (Provider) GarbageCollect(context.Context, analysis.Request, int) error { return nil }
