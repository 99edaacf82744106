package metrics_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/prometheustest"
)

var (
	cl client.Client
	// metricsAddr is where the controller serves /metrics.
	metricsAddr string
	// promURL is a real Prometheus scraping the controller every second.
	promURL string
)

// TestMain runs one cluster, one controller (as its ServiceAccount, serving
// metrics) and a real Prometheus that scrapes it, for the end-to-end and
// dashboard tests.
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(run(m))
}

func run(m *testing.M) int {
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shared, err := cluster.Start(ctx, cluster.Options{})
	if err != nil {
		return fail("starting the cluster", err)
	}
	defer shared.Stop()
	if err := clustertest.InstallRBAC(shared.Config()); err != nil {
		return fail("installing the controller's roles", err)
	}
	if metricsAddr, err = freeAddr(); err != nil {
		return fail("finding a port", err)
	}
	opts := app.Options{SkipControllerNameValidation: true, MetricsAddr: metricsAddr}
	mgr, err := app.NewManager(clustertest.AsController(shared.Config()), opts)
	if err == nil {
		err = app.Setup(mgr, opts)
	}
	if err != nil {
		return fail("starting the controller", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() { cancel(); <-done }()
	dir, err := os.MkdirTemp("", "prometheus-")
	if err != nil {
		return fail("prometheus", err)
	}
	defer os.RemoveAll(dir)
	prom, err := prometheustest.Start(ctx, dir, metricsAddr)
	if err != nil {
		return fail("starting prometheus", err)
	}
	defer prom.Stop()
	promURL = prom.URL
	if cl, err = client.New(shared.Config(), client.Options{Scheme: app.Scheme()}); err != nil {
		return fail("client", err)
	}
	return m.Run()
}

// freeAddr is a local address nothing listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strings.Replace(l.Addr().String(), "[::]", "127.0.0.1", 1), nil
}
