package newrelic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// Defaults of a measurement.
const (
	// DefaultProfile is the Secret read without profile.
	DefaultProfile = "newrelic"
	// DefaultNRQLTimeout is the NRQL timeout sent, in seconds.
	DefaultNRQLTimeout = 5
	// DefaultTimeout bounds the request.
	DefaultTimeout = 30 * time.Second
)

// Endpoints are NerdGraph's URLs by the Secret's region.
var Endpoints = map[string]string{
	"us":      "https://api.newrelic.com/graphql",
	"eu":      "https://api.eu.newrelic.com/graphql",
	"jp":      "https://api.jp.newrelic.com/graphql",
	"gov":     "https://gov-api.newrelic.com/graphql",
	"fedramp": "https://gov-api.newrelic.com/graphql",
	"staging": "https://staging-api.newrelic.com/graphql",
}

// document is the NerdGraph query: the NRQL's results only.
const document = `query($query: Nrql!, $accountId: Int!, $timeout: Seconds!) { actor { account(id: $accountId) { nrql(query: $query, timeout: $timeout) { results } } } }`

// Provider runs New Relic metrics.
type Provider struct {
	// HTTP is how NerdGraph is reached; nil is fetch.Shared().
	HTTP *fetch.Client
	// Credentials reads the profile's Secret.
	Credentials analysis.Credentials
}

var _ analysis.Provider = Provider{}

// Type is "newRelic".
func (Provider) Type() string { return "newRelic" }

// account is what the profile's Secret says.
type account struct {
	key      string
	id       int
	endpoint string
}

func (p Provider) account(ctx context.Context, profile string) (account, error) {
	if profile == "" {
		profile = DefaultProfile
	}
	data, err := p.Credentials.Secret(ctx, "", profile)
	if err != nil {
		return account{}, fmt.Errorf("newRelic: %w", err)
	}
	a := account{key: data["personal-api-key"]}
	if a.key == "" || data["account-id"] == "" {
		return account{}, fmt.Errorf("newRelic: Secret %s needs the keys personal-api-key and account-id", profile)
	}
	if a.id, err = strconv.Atoi(strings.TrimSpace(data["account-id"])); err != nil {
		return account{}, fmt.Errorf("newRelic: Secret %s: account-id %q is not a number", profile, data["account-id"])
	}
	region := strings.ToLower(data["region"])
	if region == "" {
		region = "us"
	}
	a.endpoint = Endpoints[region]
	if a.endpoint == "" {
		return account{}, fmt.Errorf("newRelic: Secret %s: region %q is not one of us, eu, jp, gov, staging", profile, data["region"])
	}
	if u := data["base-url-nerdgraph"]; u != "" {
		a.endpoint = u
	}
	return a, nil
}

// Measure runs the NRQL once.
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	m := req.Metric.Provider.NewRelic
	timeout := int64(DefaultNRQLTimeout)
	if m.Timeout != nil {
		timeout = *m.Timeout
	}
	if timeout < 0 {
		return analysis.Outcome{}, errors.New("newRelic: timeout must not be negative")
	}
	a, err := p.account(ctx, m.Profile)
	if err != nil {
		return analysis.Outcome{}, err
	}
	redact := analysis.NewRedactor(a.key)
	out, err := p.query(ctx, a, m.Query, timeout)
	if err != nil {
		return analysis.Outcome{}, errors.New(redact.Redact(err.Error()))
	}
	return out, nil
}

func (p Provider) query(ctx context.Context, a account, nrql string, timeout int64) (analysis.Outcome, error) {
	body, err := json.Marshal(map[string]any{"query": document, "variables": map[string]any{"query": nrql, "accountId": a.id, "timeout": timeout}})
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("newRelic: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint, bytes.NewReader(body))
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("newRelic: base-url-nerdgraph %q: %w", a.endpoint, err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Api-Key", a.key)
	httpReq.Header.Set("User-Agent", "ramp (https://ramp.dev)")
	c := p.HTTP
	if c == nil {
		c = fetch.Shared()
	}
	resp, data, err := c.Do(httpReq)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("newRelic: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return analysis.Outcome{}, fmt.Errorf("newRelic: NerdGraph answered %s: %s", resp.Status, fetch.Snippet(data))
	}
	var answer struct {
		Data struct {
			Actor struct {
				Account struct {
					NRQL *struct {
						Results []map[string]any `json:"results"`
					} `json:"nrql"`
				} `json:"account"`
			} `json:"actor"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return analysis.Outcome{}, fmt.Errorf("newRelic: the answer is not JSON: %w", err)
	}
	if len(answer.Errors) > 0 {
		return analysis.Outcome{}, fmt.Errorf("newRelic: NerdGraph: %s", answer.Errors[0].Message)
	}
	nrqlAnswer := answer.Data.Actor.Account.NRQL
	if nrqlAnswer == nil || len(nrqlAnswer.Results) == 0 || len(nrqlAnswer.Results) == 1 && len(nrqlAnswer.Results[0]) == 0 {
		return analysis.Outcome{}, errors.New("newRelic: no results returned from the NRQL query")
	}
	var value any = nrqlAnswer.Results
	if len(nrqlAnswer.Results) == 1 {
		value = nrqlAnswer.Results[0]
	}
	text, err := json.Marshal(value)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("newRelic: %w", err)
	}
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
