package datadog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// Defaults of a measurement.
const (
	DefaultAddress  = "https://api.datadoghq.com"
	DefaultInterval = 5 * time.Minute
	DefaultTimeout  = 10 * time.Second
	// DefaultSecret is the Secret read without secretRef.name.
	DefaultSecret = "datadog"
	// maxGroups is how many groups metadata.groups lists: beyond it, the
	// 50 lowest and the 50 highest.
	maxGroups = 100
)

// Provider runs Datadog metrics.
type Provider struct {
	// HTTP is how Datadog is reached; nil is fetch.Shared().
	HTTP *fetch.Client
	// Credentials reads the datadog Secret and the DD_* environment.
	Credentials analysis.Credentials
	// Clock gives the end of the window; nil is the wall clock.
	Clock interface{ Now() time.Time }
}

var _ analysis.Provider = Provider{}

// Type is "datadog".
func (Provider) Type() string { return "datadog" }

// keys are the credentials and the address of a measurement.
type keys struct {
	address, apiKey, appKey string
}

// Check validates a block as Argo Rollouts does, with its messages.
func Check(m *v1alpha1.DatadogMetric) error {
	version := m.ApiVersion
	if version == "" {
		version = "v1"
	}
	switch {
	case m.Query == "" && len(m.Queries) == 0:
		return errors.New("datadog: must have either a query or queries")
	case m.Query != "" && len(m.Queries) > 0:
		return errors.New("datadog: cannot have both a query and queries")
	case version == "v1" && m.Query == "":
		return errors.New("datadog: apiVersion v1 supports only query; use apiVersion v2 for queries")
	case m.Formula != "" && len(m.Queries) == 0:
		return errors.New("datadog: formula is only valid with queries")
	case len(m.Queries) > 1 && m.Formula == "":
		return errors.New("datadog: several queries need a formula")
	case version == "v1" && m.Aggregator != "":
		return errors.New("datadog: aggregator is not supported with apiVersion v1")
	}
	if m.RequestTimeout != "" {
		d, err := time.ParseDuration(string(m.RequestTimeout))
		if err != nil {
			return fmt.Errorf("datadog: requestTimeout %q: %w", m.RequestTimeout, err)
		}
		if d <= 0 {
			return fmt.Errorf("datadog: requestTimeout must be a positive duration (e.g. 30s), not %s", m.RequestTimeout)
		}
	}
	if m.Interval != "" {
		if _, err := time.ParseDuration(string(m.Interval)); err != nil {
			return fmt.Errorf("datadog: interval %q: %w", m.Interval, err)
		}
	}
	return nil
}

// credentials finds the keys: without secretRef.name the DD_API_KEY,
// DD_APP_KEY and DD_ADDRESS environment (all three set), else the Secret
// datadog in the controller's namespace; with a name, that Secret only, in
// the run's namespace when namespaced.
func (p Provider) credentials(ctx context.Context, run *v1alpha1.AnalysisRun, ref v1alpha1.SecretRef) (keys, error) {
	if ref.Namespaced && ref.Name == "" {
		return keys{}, errors.New("datadog: secretRef.namespaced needs secretRef.name")
	}
	if ref.Name == "" {
		api, okA := p.Credentials.Env("DD_API_KEY")
		app, okB := p.Credentials.Env("DD_APP_KEY")
		addr, okC := p.Credentials.Env("DD_ADDRESS")
		if okA && okB && okC && api != "" && app != "" {
			return keys{address: addr, apiKey: api, appKey: app}, nil
		}
	}
	name, ns := ref.Name, ""
	if name == "" {
		name = DefaultSecret
	}
	if ref.Namespaced && run != nil {
		ns = run.Namespace
	}
	data, err := p.Credentials.Secret(ctx, ns, name)
	if err != nil {
		return keys{}, fmt.Errorf("datadog: %w", err)
	}
	k := keys{address: data["address"], apiKey: data["api-key"], appKey: data["app-key"]}
	if k.apiKey == "" || k.appKey == "" {
		return keys{}, fmt.Errorf("datadog: Secret %s needs the keys api-key and app-key", name)
	}
	return k, nil
}

// Measure runs the query once over [now-interval, now].
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	m := req.Metric.Provider.Datadog
	if err := Check(m); err != nil {
		return analysis.Outcome{}, err
	}
	k, err := p.credentials(ctx, req.Run, m.SecretRef)
	if err != nil {
		return analysis.Outcome{}, err
	}
	redact := analysis.NewRedactor(k.apiKey, k.appKey)
	out, err := p.query(ctx, m, k)
	if err != nil {
		return analysis.Outcome{}, errors.New(redact.Redact(err.Error()))
	}
	return out, nil
}

func (p Provider) query(ctx context.Context, m *v1alpha1.DatadogMetric, k keys) (analysis.Outcome, error) {
	window, timeout := DefaultInterval, DefaultTimeout
	if m.Interval != "" {
		window, _ = time.ParseDuration(string(m.Interval))
	}
	if m.RequestTimeout != "" {
		timeout, _ = time.ParseDuration(string(m.RequestTimeout))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := strings.TrimRight(k.address, "/")
	if base == "" {
		base = DefaultAddress
	}
	if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" {
		return analysis.Outcome{}, fmt.Errorf("datadog: address %q is not a URL such as https://api.datadoghq.eu", k.address)
	}
	now := time.Now()
	if p.Clock != nil {
		now = p.Clock.Now()
	}
	from := now.Add(-window)
	var httpReq *http.Request
	var err error
	v2 := m.ApiVersion == "v2"
	if !v2 {
		q := url.Values{"query": {m.Query}, "from": {strconv.FormatInt(from.Unix(), 10)}, "to": {strconv.FormatInt(now.Unix(), 10)}}
		httpReq, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?"+q.Encode(), nil)
	} else {
		var body []byte
		body, err = json.Marshal(scalarRequest(m, from, now))
		if err == nil {
			httpReq, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v2/query/scalar", bytes.NewReader(body))
		}
	}
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("datadog: %w", err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Accept", "application/json")
	httpReq.Header.Set("DD-API-KEY", k.apiKey)
	httpReq.Header.Set("DD-APPLICATION-KEY", k.appKey)
	c := p.HTTP
	if c == nil {
		c = fetch.Shared()
	}
	resp, data, err := c.Do(httpReq)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("datadog: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return analysis.Outcome{}, fmt.Errorf("datadog: the keys were refused: %s %s", resp.Status, fetch.Snippet(data))
	case resp.StatusCode != http.StatusOK:
		return analysis.Outcome{}, fmt.Errorf("datadog: %s answered %s: %s", httpReq.URL.Path, resp.Status, fetch.Snippet(data))
	}
	if v2 {
		return parseV2(data)
	}
	return parseV1(data)
}

// scalarRequest is the v2 body; queries in name order.
func scalarRequest(m *v1alpha1.DatadogMetric, from, to time.Time) any {
	queries := m.Queries
	if m.Query != "" {
		queries = map[string]string{"query": m.Query}
	}
	names := make([]string, 0, len(queries))
	for n := range queries {
		names = append(names, n)
	}
	sort.Strings(names)
	agg := m.Aggregator
	if agg == "" {
		agg = "last"
	}
	type query struct {
		Aggregator string `json:"aggregator"`
		DataSource string `json:"data_source"`
		Name       string `json:"name"`
		Query      string `json:"query"`
	}
	type formula struct {
		Formula string `json:"formula"`
	}
	qs := make([]query, 0, len(names))
	for _, n := range names {
		qs = append(qs, query{Aggregator: agg, DataSource: "metrics", Name: n, Query: queries[n]})
	}
	fs := []formula{}
	if m.Formula != "" {
		fs = append(fs, formula{m.Formula})
	}
	return map[string]any{"data": map[string]any{
		"type": "scalar_request",
		"attributes": map[string]any{
			"from": from.UnixMilli(), "to": to.UnixMilli(), "queries": qs, "formulas": fs,
		},
	}}
}

// parseV1 takes the last point of the first series: a number, or nil
// when there is none (default(result, 0) then applies).
func parseV1(data []byte) (analysis.Outcome, error) {
	var body struct {
		Series []struct {
			Pointlist [][]*float64 `json:"pointlist"`
		} `json:"series"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return analysis.Outcome{}, fmt.Errorf("datadog: the answer is not JSON: %w", err)
	}
	if body.Error != "" {
		return analysis.Outcome{}, fmt.Errorf("datadog: the query failed: %s", body.Error)
	}
	if len(body.Series) == 0 || len(body.Series[0].Pointlist) == 0 {
		text := "[]"
		if body.Series == nil {
			text = "null"
		}
		return analysis.Outcome{Value: nil, Text: text}, nil
	}
	points := body.Series[0].Pointlist
	last := points[len(points)-1]
	if len(last) != 2 {
		return analysis.Outcome{}, errors.New("datadog: a datapoint does not have 2 values")
	}
	v := 0.0 // a null value is 0, as in Argo Rollouts
	if last[1] != nil {
		v = *last[1]
	}
	return analysis.Outcome{Value: v, Text: strconv.FormatFloat(v, 'f', -1, 64)}, nil
}

type column struct {
	Name   string            `json:"name"`
	Type   string            `json:"type"`
	Values []json.RawMessage `json:"values"`
}

// parseV2 reads the first number column: one value, or one per group.
func parseV2(data []byte) (analysis.Outcome, error) {
	var body struct {
		Data struct {
			Attributes struct {
				Columns []column `json:"columns"`
			} `json:"attributes"`
		} `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return analysis.Outcome{}, fmt.Errorf("datadog: the answer is not JSON: %w", err)
	}
	if e := strings.Trim(string(body.Errors), `"`); e != "" && e != "null" && e != "[]" {
		return analysis.Outcome{}, fmt.Errorf("datadog: there were errors in the query: %s", e)
	}
	var number *column
	var groups []column
	for i, c := range body.Data.Attributes.Columns {
		switch c.Type {
		case "group":
			groups = append(groups, c)
		case "number", "":
			if number == nil {
				number = &body.Data.Attributes.Columns[i]
			}
		}
	}
	if number == nil {
		return analysis.Outcome{Value: nil, Text: "[]"}, nil
	}
	type group struct {
		Name  string  `json:"name"`
		Value float64 `json:"value"`
	}
	var values []float64
	var labelled []group
	for i, raw := range number.Values {
		if string(raw) == "null" {
			continue
		}
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil {
			return analysis.Outcome{}, fmt.Errorf("datadog: could not parse numeric value %s in column %q", fetch.Snippet(raw), number.Name)
		}
		values = append(values, v)
		if len(groups) > 0 {
			var parts []string
			for _, g := range groups {
				if i >= len(g.Values) {
					return analysis.Outcome{}, fmt.Errorf("datadog: could not parse group label at index %d", i)
				}
				var tags []string
				if err := json.Unmarshal(g.Values[i], &tags); err != nil || len(tags) == 0 {
					return analysis.Outcome{}, fmt.Errorf("datadog: could not parse group label at index %d", i)
				}
				parts = append(parts, tags...)
			}
			labelled = append(labelled, group{Name: strings.Join(parts, ","), Value: v})
		}
	}
	if len(values) == 0 {
		return analysis.Outcome{Value: nil, Text: "[]"}, nil
	}
	if len(groups) == 0 {
		return analysis.Outcome{Value: values[0], Text: strconv.FormatFloat(values[0], 'f', -1, 64)}, nil
	}
	texts := make([]string, len(values))
	for i, v := range values {
		texts[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	meta := map[string]string{}
	if len(labelled) > maxGroups {
		sort.SliceStable(labelled, func(i, j int) bool { return labelled[i].Value < labelled[j].Value })
		labelled = append(labelled[:maxGroups/2:maxGroups/2], labelled[len(labelled)-maxGroups/2:]...)
		meta["groups_truncated"] = "true"
	}
	g, _ := json.Marshal(labelled)
	meta["groups"] = string(g)
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
