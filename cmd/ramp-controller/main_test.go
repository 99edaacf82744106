package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
)

func TestVersionFlag(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--version"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "ramp-controller dev (commit ") {
		t.Errorf("printed %q", out.String())
	}
}

func TestBadFlagsAreRefused(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--no-such-flag"}, &out); err == nil {
		t.Error("an unknown flag was accepted")
	}
	if err := run(t.Context(), []string{"stray"}, &out); err == nil || !strings.Contains(err.Error(), "unexpected arguments") {
		t.Errorf("a stray argument: %v", err)
	}
	if err := run(t.Context(), []string{"--istio-api-version", "v2"}, &out); err == nil || !strings.Contains(err.Error(), `--istio-api-version "v2": must be one of v1, v1beta1, v1alpha3`) {
		t.Errorf("--istio-api-version v2: %v", err)
	}
}

// The client and worker flags reach app.Options, with defaults that serve a
// fleet without tuning.
func TestClientAndWorkerFlags(t *testing.T) {
	var out bytes.Buffer
	c, err := parse(nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	if o := c.opts; o.QPS != app.DefaultQPS || o.APITimeout != app.DefaultAPITimeout || o.RolloutWorkers != 10 || o.AnalysisWorkers != 30 {
		t.Errorf("defaults: qps %v, timeout %s, workers %d/%d", o.QPS, o.APITimeout, o.RolloutWorkers, o.AnalysisWorkers)
	}
	c, err = parse([]string{"--qps=40", "--kube-api-timeout=5s", "--rollout-workers=3", "--analysis-workers=7"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if o := c.opts; o.QPS != 40 || o.Burst != 80 || o.APITimeout != 5*time.Second || o.RolloutWorkers != 3 || o.AnalysisWorkers != 7 {
		t.Errorf("set: %+v", o)
	}
	if cfg := app.ClientConfig(&rest.Config{}, c.opts); cfg.QPS != 40 || cfg.Burst != 80 {
		t.Errorf("client config: qps %v burst %d", cfg.QPS, cfg.Burst)
	}
	if c, err = parse([]string{"--kube-api-timeout=0"}, &out); err != nil || c.opts.APITimeout >= 0 {
		t.Errorf("--kube-api-timeout=0: %v, %s; want no limit", err, c.opts.APITimeout)
	}
	if _, err := parse([]string{"--rollout-workers=0"}, &out); err == nil || !strings.Contains(err.Error(), "--rollout-workers") {
		t.Errorf("--rollout-workers=0: %v", err)
	}
}

// The bounds on KPI sources reach app.Options, with safe defaults: no AWS
// role or profile a template may pick.
func TestAnalysisBoundFlags(t *testing.T) {
	var out bytes.Buffer
	c, err := parse(nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.opts.Analysis; a.MaxTimeout != time.Minute || a.MaxResponseBytes != 1<<20 || a.JobDeadline != time.Hour || a.AllowedRoleARNs != nil || a.AllowedProfiles != nil {
		t.Errorf("defaults: %+v", a)
	}
	c, err = parse([]string{"--analysis-max-timeout=5s", "--analysis-max-response-bytes=4096", "--analysis-job-deadline=2m",
		"--aws-allowed-role-arns=arn:aws:iam::1:role/a, arn:aws:iam::1:role/b", "--aws-allowed-profiles=prod"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	a := c.opts.Analysis
	if a.MaxTimeout != 5*time.Second || a.MaxResponseBytes != 4096 || a.JobDeadline != 2*time.Minute ||
		strings.Join(a.AllowedRoleARNs, " ") != "arn:aws:iam::1:role/a arn:aws:iam::1:role/b" || strings.Join(a.AllowedProfiles, " ") != "prod" {
		t.Errorf("set: %+v", a)
	}
	if _, err := parse([]string{"--analysis-max-timeout=0"}, &out); err == nil || !strings.Contains(err.Error(), "--analysis-max-timeout") {
		t.Errorf("--analysis-max-timeout=0: %v", err)
	}
}

func TestMissingKubeconfigIsAClearError(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}, &out)
	if err == nil {
		t.Fatal("started without a kubeconfig")
	}
}

// The controller starts against a cluster, serves its probes and metrics,
// and stops cleanly when its context ends.
func TestRunsAgainstAClusterAndStops(t *testing.T) {
	c, err := cluster.Start(t.Context(), cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	probes, metrics := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var out bytes.Buffer
		done <- run(ctx, []string{"--kubeconfig", c.KubeconfigPath(), "--leader-elect=false",
			"--metrics-bind-address=" + metrics, "--health-probe-bind-address=" + probes}, &out)
	}()
	for _, check := range []struct{ url, want string }{
		{"http://" + probes + "/healthz", "ok"},
		{"http://" + probes + "/readyz", "ok"},
		{"http://" + metrics + "/metrics", `controller_runtime_reconcile_total{controller="rollout",result="success"}`},
	} {
		var last string
		err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
			resp, err := http.Get(check.url)
			if err != nil {
				last = err.Error()
				return false, nil
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			last = fmt.Sprintf("%d %.200s", resp.StatusCode, body)
			return resp.StatusCode == http.StatusOK && strings.Contains(string(body), check.want), nil
		})
		if err != nil {
			t.Errorf("%s: want 200 with %q; last: %s", check.url, check.want, last)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("controller stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the controller did not stop")
	}
}

// freePort is a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The leader-election timings reach app.Options (the chaos suite's
// overlapping leaders use short ones).
func TestLeaderElectionFlags(t *testing.T) {
	var out bytes.Buffer
	c, err := parse([]string{"--leader-election-lease-duration=3s", "--leader-election-renew-deadline=2s", "--leader-election-retry-period=500ms"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if o := c.opts; o.LeaseDuration != 3*time.Second || o.RenewDeadline != 2*time.Second || o.RetryPeriod != 500*time.Millisecond {
		t.Errorf("lease %s, renew %s, retry %s", o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
	}
	if c, _ = parse(nil, &out); c.opts.LeaseDuration != 15*time.Second {
		t.Errorf("default lease %s, want controller-runtime's 15s", c.opts.LeaseDuration)
	}
}
