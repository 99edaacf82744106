package demo

import (
	"context"
	"fmt"
	"os"

	"github.com/rampdev/ramp/internal/promserver"
)

// PrometheusConfig scrapes the demo pods every two seconds, discovered
// through sd, an HTTP service-discovery endpoint (Pods.ServeHTTP) that
// lists the pods the sandbox serves, labelled with namespace, pod and
// rollouts_pod_template_hash. (Debian's prometheus package is built
// without kubernetes_sd_configs, so the sandbox answers discovery from
// what its nodes run.)
func PrometheusConfig(sd string) string {
	return fmt.Sprintf(`global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: ramp-demo
    http_sd_configs:
      - url: %q
        refresh_interval: 2s
`, sd)
}

// StartPrometheus runs Prometheus in dir with PrometheusConfig.
func StartPrometheus(ctx context.Context, dir, sd string) (*promserver.Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return promserver.Start(ctx, dir, PrometheusConfig(sd))
}
