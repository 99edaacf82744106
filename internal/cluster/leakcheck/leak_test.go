// Package leakcheck holds one test: that a stopped cluster leaves no
// goroutine and no file behind. It lives apart from the cluster package's
// tests, whose shared cluster would hide a leak.
package leakcheck

import (
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rampdev/ramp/internal/cluster"
)

func TestStopLeavesNoGoroutinesOrFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	c, err := cluster.Start(t.Context(), cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Stop()
	// Some of the API server's goroutines wind down on their own timers
	// (a few seconds at most), hence the patient retries. Its "log" health
	// check starts one goroutine per process, on first use, that runs
	// wait.Forever.
	ignore := goleak.IgnoreAnyFunction("k8s.io/apimachinery/pkg/util/wait.Forever")
	deadline := time.Now().Add(20 * time.Second)
	for goleak.Find(ignore) != nil && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond) // waiting out the API server's own timers
	}
	goleak.VerifyNone(t, ignore)
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in the temporary directory: %s", e.Name())
	}
}
