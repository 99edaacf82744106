package scalebench_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampdev/ramp/internal/scalebench"
)

// A short run of the benchmark (make bench-scale runs 1,000): the built
// ramp-controller, with its default flags, takes a small fleet through
// creation and a release of all at once, and writes nothing at rest but
// its leader-election Lease.
func TestShortFleetRun(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ramp-controller")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/rampdev/ramp/cmd/ramp-controller").CombinedOutput(); err != nil {
		t.Fatalf("building ramp-controller: %v\n%s", err, out)
	}
	var out bytes.Buffer
	rep, err := scalebench.Run(t.Context(), scalebench.Options{Rollouts: 20, Controller: bin, Rest: 3 * time.Second, Timeout: 3 * time.Minute}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	for resource, n := range rep.RestWrites {
		if resource != "leases" {
			t.Errorf("%.0f writes of %s at rest; want none", n, resource)
		}
	}
	if rep.UpdateMax <= 0 || rep.OneAmongRest <= 0 || rep.RestRSS <= 0 {
		t.Errorf("figures missing: %+v", rep)
	}
	if c := rep.ReleaseCPU; c.Controller <= 0 || c.Cluster <= 0 || c.Busy <= 0 || c.Busy > 1 || c.Cores <= 0 {
		t.Errorf("processor time of the release: %+v; want the controller's and the cluster's above 0 and the machine's share within (0, 1]", c)
	}
	for _, want := range []string{"create → all Healthy", "at rest", "update all at once", "processor during the release", "peak RSS", "one rollout updated while 19 rest"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
