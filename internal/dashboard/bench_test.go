package dashboard_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/dashboard"
)

// The pages of a namespace of 100 canaries, as the sandbox's administrator
// sees them: the list (one list of rollouts) and a rollout (its
// ReplicaSets, pods and runs, by label), each read from the API server on
// every load (the server keeps no cache); and the list as Chromium loads it.
//
//	go test -run XXX -bench Page ./internal/dashboard
func BenchmarkPageWith100Rollouts(b *testing.B) {
	ns := clustertest.Namespace(b, admin)
	for i := range 100 {
		ro := canary(ns, fmt.Sprintf("app-%03d", i))
		ro.Spec.Replicas = new(int32)
		*ro.Spec.Replicas = 1
		if err := admin.Create(b.Context(), ro); err != nil {
			b.Fatal(err)
		}
	}
	base := serve(b, dashboard.Options{Namespace: ns})
	// In Chromium: navigation to the load event, the page drawn.
	br := browser(b)
	b.Run("list in chromium", func(b *testing.B) {
		for b.Loop() {
			if err := chromedp.Do(br, chromedp.Navigate(base+"/rollouts/"+ns), chromedp.WaitReady(chromedp.CSS(`tr[data-name="app-099"]`))); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, page := range []struct{ name, path, want string }{
		{"list", "/rollouts/" + ns, `data-name="app-099"`},
		{"rollout", "/rollouts/" + ns + "/app-042", "app-042"},
	} {
		b.Run(page.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := http.Get(base + page.path)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), page.want) {
					b.Fatalf("%s: %d", page.path, resp.StatusCode)
				}
			}
		})
	}
}
