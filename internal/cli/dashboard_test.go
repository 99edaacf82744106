package cli_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampdev/ramp/internal/cli"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// `ramp dashboard` serves the kubeconfig's namespace until interrupted and
// prints where; --identity is for a server in a cluster.
func TestDashboardCommand(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	mustRamp(t, ns, "create", "-f", "testdata/canary.yaml")

	var out syncBuffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &out})
	cmd.SetArgs([]string{"--kubeconfig", kubeconfig, "-n", ns, "dashboard", "--port", "0"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var url string
	clustertest.Eventually(t, 30*time.Second, "the dashboard's address printed", func() (bool, string) {
		m := regexp.MustCompile(`Ramp dashboard: (http://127\.0\.0\.1:\d+/)`).FindStringSubmatch(out.String())
		if m != nil {
			url = m[1]
		}
		return m != nil, out.String()
	})
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `data-name="web"`) || !strings.Contains(string(body), "in "+ns) {
		t.Errorf("%s: %d\n%s", url, resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ramp dashboard, interrupted: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ramp dashboard did not stop when interrupted")
	}

	_, err = ramp(t, ns, "dashboard", "--identity", "token")
	expectError(t, err, "--identity token is for a server in a cluster (--in-cluster)")
}
