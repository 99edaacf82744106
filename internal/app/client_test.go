package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
)

// The client options reach the configuration every client of the manager
// is made from (reads, writes, events, leader election).
func TestClientOptionsReachTheManager(t *testing.T) {
	c, err := cluster.Start(t.Context(), cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	base := c.Config()
	base.QPS, base.Burst = 0, 0
	for _, c := range []struct {
		opts      app.Options
		wantQPS   float32
		wantBurst int
		name      string
	}{
		{app.Options{}, app.DefaultQPS, app.DefaultBurst, "defaults: no client-side limit"},
		{app.Options{QPS: 50}, 50, 100, "qps alone: burst twice qps"},
		{app.Options{QPS: 50, Burst: 70}, 50, 70, "both"},
	} {
		mgr, err := app.NewManager(base, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := mgr.GetConfig(); got.QPS != c.wantQPS || got.Burst != c.wantBurst {
			t.Errorf("%s: manager's config QPS %v burst %d; want %v and %d", c.name, got.QPS, got.Burst, c.wantQPS, c.wantBurst)
		}
		if base.QPS != 0 || base.Burst != 0 {
			t.Fatalf("%s: the caller's config was changed", c.name)
		}
	}
}

// --kube-api-timeout ends a request the API server does not answer in
// time, but not a watch, which lasts as long as the server keeps it.
func TestAPITimeoutEndsRequestsButNotWatches(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			for i := range 3 {
				fmt.Fprintf(w, `{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c%d","resourceVersion":"%d"}}}`+"\n", i, i+1)
				w.(http.Flusher).Flush()
				select {
				case <-time.After(300 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			return
		}
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	cfg := app.ClientConfig(&rest.Config{Host: srv.URL}, app.Options{APITimeout: 200 * time.Millisecond})
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, err = kube.CoreV1().ConfigMaps("default").Get(ctx, "x", metav1.GetOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a request the server never answers: %v; want the deadline", err)
	}
	w, err := kube.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	got := 0
	for ev := range w.ResultChan() {
		if ev.Type != "ADDED" {
			t.Fatalf("watch event %s %v: the watch was cut", ev.Type, ev.Object)
		}
		got++
	}
	if got != 3 {
		t.Errorf("%d watch events over 600ms, three times the timeout; want 3", got)
	}
}
