package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"k8s.io/utils/lru"
)

// Defaults of the controller-wide bounds (flags --analysis-max-timeout and
// --analysis-max-response-bytes).
const (
	DefaultMaxTimeout = 60 * time.Second
	DefaultMaxBody    = 1 << 20
)

// idleTimeout closes a kept connection nobody used for this long.
const idleTimeout = 30 * time.Second

// tokenSources bounds the OAuth2 clients kept.
const tokenSources = 256

// Client hands providers their transports. The zero value is not usable;
// New makes one.
type Client struct {
	// MaxBody is the largest answer read, in bytes.
	MaxBody int64
	// MaxTimeout bounds a token fetch, which may outlive the measurement
	// that started it (the next one then finds the token).
	MaxTimeout time.Duration

	plain, insecure *http.Transport

	mu     sync.Mutex
	tokens *lru.Cache
}

// New makes a Client; zero values mean the defaults.
func New(maxBody int64, maxTimeout time.Duration) *Client {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	if maxTimeout <= 0 {
		maxTimeout = DefaultMaxTimeout
	}
	c := &Client{MaxBody: maxBody, MaxTimeout: maxTimeout, plain: newTransport(false), insecure: newTransport(true)}
	c.tokens = lru.NewWithEvictionFunc(tokenSources, func(lru.Key, any) {})
	return c
}

func newTransport(insecure bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.IdleConnTimeout = idleTimeout
	t.MaxIdleConnsPerHost = 8
	t.ResponseHeaderTimeout = 0 // the request's context decides
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by the metric's insecure field
	}
	return t
}

// Transport is the shared transport, with or without certificate checks,
// whose answers are read through the size cap.
func (c *Client) Transport(insecure bool) http.RoundTripper {
	base := c.plain
	if insecure {
		base = c.insecure
	}
	return capped{next: base, max: c.MaxBody}
}

// CloseIdle closes the connections nobody uses now.
func (c *Client) CloseIdle() {
	c.plain.CloseIdleConnections()
	c.insecure.CloseIdleConnections()
}

// TooLargeError is an answer larger than the cap.
type TooLargeError struct{ Max int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the answer is larger than %s, the most this controller reads (--analysis-max-response-bytes)", Size(e.Max))
}

// Size prints a byte count the way people write it: 1 MiB, 512 KiB, 10 B.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// ReadAll reads r to its end, or fails with a *TooLargeError past max
// bytes.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return data, err
	}
	if int64(len(data)) > max {
		return nil, &TooLargeError{Max: max}
	}
	return data, nil
}

// capped replaces each answer's body with one that fails past max bytes.
type capped struct {
	next http.RoundTripper
	max  int64
}

func (c capped) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > c.max {
		resp.Body.Close()
		return nil, &TooLargeError{Max: c.max}
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, max: c.max}
	return resp, nil
}

type cappedBody struct {
	io.ReadCloser
	max, read int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.read > b.max {
		return 0, &TooLargeError{Max: b.max}
	}
	if left := b.max + 1 - b.read; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if b.read > b.max {
		return 0, &TooLargeError{Max: b.max}
	}
	return n, err
}

// OAuth2 is a client-credentials token fetcher and its settings. Its
// fields are what makes two metrics share a token.
type OAuth2 struct {
	TokenURL, ClientID, ClientSecret string
	Scopes                           []string
	Insecure                         bool
}

// key identifies an OAuth2 client without holding its secret in clear.
func (o OAuth2) key() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{o.TokenURL, o.ClientID, o.ClientSecret, strings.Join(o.Scopes, " "), fmt.Sprint(o.Insecure)}, "\x00")))
	return string(sum[:])
}

// WithOAuth2 adds the client's bearer token to each request made through
// next. The token is fetched once and reused until it expires; a fetch
// that takes longer than the request's deadline fails the request (the
// fetch itself ends within MaxTimeout).
func (c *Client) WithOAuth2(o OAuth2, next http.RoundTripper) http.RoundTripper {
	return &bearer{source: c.tokenSource(o), next: next}
}

func (c *Client) tokenSource(o OAuth2) oauth2.TokenSource {
	key := o.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.tokens.Get(key); ok {
		return s.(oauth2.TokenSource)
	}
	cc := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
	hc := &http.Client{Transport: c.Transport(o.Insecure), Timeout: c.MaxTimeout}
	s := cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, hc))
	c.tokens.Add(key, s)
	return s
}

// bearer waits for the token within the request's context.
type bearer struct {
	source oauth2.TokenSource
	next   http.RoundTripper
}

type tokenAnswer struct {
	tok *oauth2.Token
	err error
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	ch := make(chan tokenAnswer, 1)
	go func() {
		tok, err := b.source.Token()
		ch <- tokenAnswer{tok, err}
	}()
	var ans tokenAnswer
	select {
	case ans = <-ch:
	case <-r.Context().Done():
		return nil, fmt.Errorf("oauth2: no token within the measurement's deadline: %w", r.Context().Err())
	}
	if ans.err != nil {
		var re *oauth2.RetrieveError
		if errors.As(ans.err, &re) && re.Response != nil {
			return nil, fmt.Errorf("oauth2: the token endpoint answered %s", re.Response.Status)
		}
		return nil, fmt.Errorf("oauth2: fetching a token: %w", ans.err)
	}
	r = r.Clone(r.Context())
	ans.tok.SetAuthHeader(r)
	return b.next.RoundTrip(r)
}

var shared = sync.OnceValue(func() *Client { return New(0, 0) })

// Shared is the Client of providers built without one (their zero value).
func Shared() *Client { return shared() }

// Do sends req through the shared transport and reads its answer through
// the size cap. A transport error is returned without the url.Error's
// text, which holds the whole URL (query and all); what is wrapped says
// the method and path.
func (c *Client) Do(req *http.Request) (*http.Response, []byte, error) {
	resp, err := (&http.Client{Transport: c.Transport(false)}).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := ReadAll(resp.Body, c.MaxBody)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer of %s %s: %w", req.Method, req.URL.Path, err)
	}
	return resp, data, nil
}

// Snippet is the start of an answer, for a message.
func Snippet(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
