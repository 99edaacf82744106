package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/dashboard"
	"github.com/rampdev/ramp/internal/demo"
	"github.com/rampdev/ramp/internal/promserver"
)

// demoRun is what --demo started beside the cluster.
type demoRun struct {
	prometheus *promserver.Server
	lines      []string
}

func (d *demoRun) stop() {
	if d.prometheus != nil {
		d.prometheus.Stop()
	}
}

// startDashboard serves the dashboard as the sandbox's administrator on
// addr, or on a free port when addr is taken, until ctx ends.
func startDashboard(ctx context.Context, c *cluster.Cluster, addr string) (string, error) {
	srv, err := dashboard.New(dashboard.Options{Config: c.Config(), Namespace: "default"})
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		host, _, _ := net.SplitHostPort(addr)
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return "", err
		}
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	go func() { <-ctx.Done(); _ = hs.Close() }()
	return "http://" + ln.Addr().String() + "/", nil
}

// startDemo starts the Service listeners, Prometheus (if installed), the
// demo rollouts and the traffic, and returns what to print.
func startDemo(ctx context.Context, c *cluster.Cluster, pods *demo.Pods, dir string, rps int, dashboardAddr string) (*demoRun, error) {
	d := &demoRun{}
	cs, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		return nil, err
	}
	servicesFile := filepath.Join(dir, "services.txt")
	svcs, err := demo.StartServices(ctx, cs, servicesFile)
	if err != nil {
		return nil, err
	}
	promURL := "http://127.0.0.1:9" // nothing listens: analysis errors, never promotes
	sd, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sdServer := &http.Server{Handler: pods, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = sdServer.Serve(sd) }()
	go func() { <-ctx.Done(); _ = sdServer.Close() }()
	d.prometheus, err = demo.StartPrometheus(ctx, filepath.Join(dir, "prometheus"), "http://"+sd.Addr().String()+"/")
	switch {
	case errors.Is(err, promserver.ErrNoBinary):
		fmt.Println("ramp-sandbox: prometheus is not installed (make run installs it; or apt-get install prometheus): the demo's analysis cannot measure")
	case err != nil:
		return nil, fmt.Errorf("starting prometheus: %w", err)
	default:
		promURL = d.prometheus.URL
	}
	cl, err := client.New(c.Config(), client.Options{Scheme: app.Scheme()})
	if err != nil {
		d.stop()
		return nil, err
	}
	if err := demo.Install(ctx, cl, "default", promURL); err != nil {
		d.stop()
		return nil, err
	}
	if err := svcs.Wait(ctx, "default", demo.Targets...); err != nil {
		d.stop()
		return nil, err
	}
	go demo.Traffic(ctx, svcs, "default", rps)
	if dashboardAddr != "" {
		url, err := startDashboard(ctx, c, dashboardAddr)
		if err != nil {
			d.stop()
			return nil, err
		}
		d.lines = append(d.lines, "  dashboard: "+url)
	}
	d.lines = append(d.lines, "  prometheus: "+promURL)
	for _, name := range demo.Targets {
		d.lines = append(d.lines, fmt.Sprintf("  service %s: http://%s (all in %s)", name, svcs.Address("default", name), servicesFile))
	}
	d.lines = append(d.lines,
		"  next: ramp get rollout demo-canary -w",
		"        ramp set image demo-canary app=ramp-demo-app:green   # walks to Healthy",
		"        ramp set image demo-canary app=ramp-demo-app:bad     # aborted by its analysis",
	)
	return d, nil
}
