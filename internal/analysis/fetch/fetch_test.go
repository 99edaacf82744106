package fetch_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampdev/ramp/internal/analysis/fetch"
)

func get(t *testing.T, rt http.RoundTripper, ctx context.Context, url string) ([]byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func TestAnswersAreReadThroughTheCap(t *testing.T) {
	chunk := strings.Repeat("x", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		switch r.URL.Path {
		case "/small":
			n = 4
		case "/big", "/big-declared":
			n = 2048 // 2 MiB, streamed
		}
		if r.URL.Path == "/big-declared" {
			w.Header().Set("Content-Length", "2097152")
		}
		for i := 0; i < n; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := fetch.New(fetch.DefaultMaxBody, 0)
	body, err := get(t, c.Transport(false), t.Context(), srv.URL+"/small")
	if err != nil || len(body) != 4096 {
		t.Fatalf("small answer: %d bytes, %v", len(body), err)
	}
	for _, path := range []string{"/big", "/big-declared"} {
		_, err := get(t, c.Transport(false), t.Context(), srv.URL+path)
		var tooLarge *fetch.TooLargeError
		if !errors.As(err, &tooLarge) {
			t.Fatalf("%s: %v; want a TooLargeError", path, err)
		}
		if want := "larger than 1 MiB"; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %q does not say %q", path, err, want)
		}
	}
	if _, err := fetch.ReadAll(strings.NewReader(chunk), 1023); err == nil || !strings.Contains(err.Error(), "larger than 1023 B") {
		t.Errorf("ReadAll past its cap: %v", err)
	}
	if b, err := fetch.ReadAll(strings.NewReader(chunk), 1024); err != nil || len(b) != 1024 {
		t.Errorf("ReadAll at its cap: %d bytes, %v", len(b), err)
	}
}

func TestConnectionsAreReused(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "1") }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := fetch.New(0, 0)
	for i := 0; i < 5; i++ {
		// A transport asked for each measurement, as providers do.
		if _, err := get(t, c.Transport(false), t.Context(), srv.URL); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 5 measurements; want 1, reused", n)
	}
	c.CloseIdle()
}

func TestOAuth2TokenIsFetchedOnceAndWithinTheDeadline(t *testing.T) {
	var fetches atomic.Int32
	hang := make(chan struct{})
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokens.Close()
	defer close(hang) // before the server closes: it waits for the handler
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Authorization"))
	}))
	defer api.Close()

	c := fetch.New(0, 2*time.Second)
	o := fetch.OAuth2{TokenURL: tokens.URL + "/token", ClientID: "id", ClientSecret: "s3cret"}
	for i := 0; i < 3; i++ {
		body, err := get(t, c.WithOAuth2(o, c.Transport(false)), t.Context(), api.URL)
		if err != nil || string(body) != "Bearer tok-1" {
			t.Fatalf("measurement %d: %q, %v", i, body, err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d token fetches for 3 measurements; want 1", n)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	hung := fetch.OAuth2{TokenURL: tokens.URL + "/hang", ClientID: "id", ClientSecret: "s3cret"}
	done := make(chan error, 1)
	go func() {
		_, err := get(t, c.WithOAuth2(hung, c.Transport(false)), ctx, api.URL)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no token within the measurement's deadline") {
			t.Errorf("a token endpoint that hangs: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a token endpoint that hangs held the measurement past its deadline")
	}
}
