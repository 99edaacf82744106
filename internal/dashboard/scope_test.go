package dashboard_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/dashboard"
)

// requestLog records the API requests a dashboard makes, through every
// client it builds (one per request: each wraps its own transport).
type requestLog struct {
	mu   sync.Mutex
	urls []string
}

type logged struct {
	log  *requestLog
	next http.RoundTripper
}

func (l logged) RoundTrip(r *http.Request) (*http.Response, error) {
	l.log.mu.Lock()
	l.log.urls = append(l.log.urls, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	l.log.mu.Unlock()
	return l.next.RoundTrip(r)
}

func (l *requestLog) watches() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, u := range l.urls {
		if strings.Contains(u, "watch=true") {
			out = append(out, u)
		}
	}
	return out
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

// openStream opens a page's event stream and returns once the server has
// answered it; the stream is read until the test ends.
func openStream(t *testing.T, u string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	go func() {
		defer resp.Body.Close()
		s := bufio.NewScanner(resp.Body)
		for s.Scan() {
		}
	}()
}

// The server keeps no cache of the cluster: what it reads and watches is
// what the open pages show, in their namespace, as narrowly as the page
// allows. Another namespace's rollouts cost it nothing.
func TestServerWatchesOnlyWhatPagesShow(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	other := clustertest.Namespace(t, admin)
	create(t, canary(ns, "web"))
	for i := range 3 {
		if err := admin.Create(t.Context(), canary(other, fmt.Sprintf("elsewhere-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	log := &requestLog{}
	cfg := rest.CopyConfig(shared.Config())
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return logged{log, rt} })
	base := serve(t, dashboard.Options{Namespace: ns, Config: cfg})

	_, body := httpGet(t, base+"/rollouts/"+ns, nil)
	from := between(body, `data-stream="`, `"`)
	if !strings.HasPrefix(from, "/stream/rollouts/"+ns+"?from=") {
		t.Fatalf("the list's stream %q", from)
	}
	openStream(t, base+strings.ReplaceAll(from, "&amp;", "&"))
	clustertest.Eventually(t, 30*time.Second, "the list's one watch", func() (bool, string) {
		return len(log.watches()) == 1, strings.Join(log.all(), "\n")
	})
	w := log.watches()[0]
	if !strings.HasPrefix(w, "GET /apis/ramp.dev/v1alpha1/namespaces/"+ns+"/rollouts?") || !strings.Contains(w, "resourceVersion=") {
		t.Errorf("the list page watches %s, want its namespace's rollouts from the version it showed", w)
	}

	openStream(t, base+"/stream/rollouts/"+ns+"/web")
	clustertest.Eventually(t, 30*time.Second, "the rollout page's four watches", func() (bool, string) {
		return len(log.watches()) == 5, strings.Join(log.watches(), "\n")
	})
	for _, w := range log.watches()[1:] {
		q, _ := url.ParseQuery(w[strings.Index(w, "?")+1:])
		switch {
		case strings.Contains(w, "/rollouts?"):
			if q.Get("fieldSelector") != "metadata.name=web" {
				t.Errorf("the rollout watched without its name: %s", w)
			}
		case strings.Contains(w, "/replicasets?"), strings.Contains(w, "/pods?"):
			if q.Get("labelSelector") != "app=web" {
				t.Errorf("the rollout's ReplicaSets or pods watched without its selector: %s", w)
			}
		case strings.Contains(w, "/analysisruns?"):
			if q.Get("labelSelector") != "rollouts-pod-template-hash" {
				t.Errorf("runs watched without the label of the rollouts': %s", w)
			}
		default:
			t.Errorf("an unexpected watch: %s", w)
		}
	}
	for _, u := range log.all() {
		if !strings.Contains(u, "/namespaces/"+ns+"/") {
			t.Errorf("a request outside the pages' namespace: %s", u)
		}
	}
}

// between is the text of s after the first start up to end.
func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}
