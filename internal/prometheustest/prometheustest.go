// Package prometheustest runs a real Prometheus server (Debian's prometheus
// binary, which `make test` installs when it is missing) for the tests of
// the Prometheus metric provider and of analysis end to end. The server
// scrapes the targets it is given every second.
package prometheustest

import (
	"context"
	"fmt"
	"strings"

	"github.com/rampdev/ramp/internal/promserver"
)

// Server is a running Prometheus.
type Server = promserver.Server

// ErrNoBinary says the prometheus binary is not installed.
var ErrNoBinary = promserver.ErrNoBinary

// Start runs Prometheus in dir, scraping targets (host:port) every second
// at /metrics, and waits until it is ready.
func Start(ctx context.Context, dir string, targets ...string) (*Server, error) {
	quoted := make([]string, len(targets))
	for i, t := range targets {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	return promserver.Start(ctx, dir, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: test
    static_configs:
      - targets: [%s]
`, strings.Join(quoted, ", ")))
}
