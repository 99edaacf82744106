// Package web is the Web metric provider: it calls an HTTP endpoint and
// judges its answer, the whole JSON document or the part jsonPath selects;
// a body that is not JSON is judged as a string.
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/util/jsonpath"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// DefaultTimeout bounds a request without timeoutSeconds.
const DefaultTimeout = 10 * time.Second

// Provider calls Web metrics' endpoints.
type Provider struct {
	// HTTP is how endpoints are reached; nil is fetch.Shared().
	HTTP *fetch.Client
}

var _ analysis.Provider = Provider{}

// Type is "web".
func (Provider) Type() string { return "web" }

// Measure calls the endpoint once.
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	w := req.Metric.Provider.Web
	c := p.HTTP
	if c == nil {
		c = fetch.Shared()
	}
	timeout := DefaultTimeout
	if w.TimeoutSeconds > 0 {
		timeout = time.Duration(w.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt := c.Transport(w.Insecure)
	if o := w.Authentication.OAuth2; o.TokenURL != "" {
		rt = c.WithOAuth2(fetch.OAuth2{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes, Insecure: w.Insecure}, rt)
	}
	client := &http.Client{Transport: rt}
	method := string(w.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	switch {
	case len(w.JSONBody) > 0:
		body = bytes.NewReader(w.JSONBody)
	case w.Body != "":
		body = strings.NewReader(w.Body)
	}
	httpReq, err := http.NewRequestWithContext(ctx, method, w.URL, body)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("web: the url is not one a request can be sent to")
	}
	where := method + " " + shown(httpReq.URL)
	if len(w.JSONBody) > 0 {
		httpReq.Header.Set("Content-Type", "application/json")
	}
	for _, h := range w.Headers {
		if strings.EqualFold(h.Key, "Host") {
			httpReq.Host = h.Value
			continue
		}
		httpReq.Header.Set(h.Key, h.Value)
	}
	resp, err := client.Do(httpReq)
	if err != nil {
		// Not the url.Error's text: it holds the whole URL, query and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return analysis.Outcome{}, fmt.Errorf("web: %s: %w", where, err)
	}
	defer resp.Body.Close()
	data, err := fetch.ReadAll(resp.Body, c.MaxBody)
	if err != nil {
		return analysis.Outcome{}, fmt.Errorf("web: reading the answer of %s: %w", where, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return analysis.Outcome{}, fmt.Errorf("web: %s answered %s: %s", where, resp.Status, snippet(data))
	}
	value, text, err := Select(data, w.JSONPath)
	if err != nil {
		return analysis.Outcome{}, err
	}
	return analysis.Outcome{Value: value, Text: text}, nil
}

// Resume is never needed: Measure completes.
func (p Provider) Resume(ctx context.Context, req analysis.Request, _ *v1alpha1.Measurement) (analysis.Outcome, error) {
	return p.Measure(ctx, req)
}

// Terminate has nothing to stop.
func (Provider) Terminate(context.Context, analysis.Request, *v1alpha1.Measurement) error { return nil }

// GarbageCollect has nothing to remove.
func (Provider) GarbageCollect(context.Context, analysis.Request, int) error { return nil }

// shown is a URL as messages show it: scheme, host and path, without the
// user, query and fragment, where credentials are often passed.
func shown(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return v.String()
}

// Select reads an answer: JSON is decoded (and narrowed by jsonPath, in
// kubectl's {.a.b} syntax); anything else is a string. It returns the value
// the conditions judge and its text for the status.
func Select(data []byte, path string) (any, string, error) {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		// Not JSON: the text itself.
		s := strings.TrimSpace(string(data))
		return s, s, nil
	}
	if path == "" {
		return doc, compact(data), nil
	}
	jp := jsonpath.New("metric")
	if err := jp.Parse(path); err != nil {
		return nil, "", fmt.Errorf("web: jsonPath %q: %w", path, err)
	}
	results, err := jp.FindResults(doc)
	if err != nil {
		return nil, "", fmt.Errorf("web: jsonPath %q: %w", path, err)
	}
	var values []any
	for _, set := range results {
		for _, v := range set {
			if v.IsValid() && v.CanInterface() {
				values = append(values, v.Interface())
			}
		}
	}
	var value any
	switch len(values) {
	case 0:
		return nil, "", fmt.Errorf("web: jsonPath %q selects nothing in %s", path, snippet(data))
	case 1:
		value = values[0]
	default:
		value = values
	}
	text, _ := json.Marshal(value)
	return value, string(text), nil
}

func compact(data []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return string(data)
	}
	return b.String()
}

// snippet is an answer as an error quotes it. It is cut far beyond what a
// run stores: the controller redacts secrets from a message first and
// bounds it after, so a cut here can never leave half a secret in view.
func snippet(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) > snippetMax {
		s = s[:snippetMax] + "..."
	}
	return s
}

// snippetMax is far above the longest message a run stores
// (analysisrun.MaxMessage).
const snippetMax = 16 << 10
