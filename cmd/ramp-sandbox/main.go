// Command ramp-sandbox runs a whole Kubernetes control plane in one process
// (etcd, kube-apiserver, the workload controllers and simulated nodes, from
// internal/cluster) with Ramp's CRDs installed, so that Ramp can be tried and
// tested with nothing else installed.
//
// By default it also runs ramp-controller in-process against that cluster;
// --no-controller leaves it out, so that a separately started controller (or
// a test) drives the rollouts.
//
// It writes an admin kubeconfig to DIR/kubeconfig, prints one line containing
// "ready" and that path once the cluster serves, and stops cleanly on SIGINT
// or SIGTERM. Its state (etcd data, certificates) stays in DIR, so a restart
// finds its objects again.
//
//	ramp-sandbox --dir .ramp-sandbox
//	KUBECONFIG=.ramp-sandbox/kubeconfig kubectl get nodes
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/demo"
)

// terminal is where this command's own errors go: the original stderr.
var terminal = os.Stderr

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(terminal, "ramp-sandbox:", err)
		os.Exit(1)
	}
}

// redirectStderr points file descriptor 2 at f, keeping a copy of the
// original in terminal.
func redirectStderr(f *os.File) error {
	orig, err := syscall.Dup(int(os.Stderr.Fd()))
	if err != nil {
		return err
	}
	terminal = os.NewFile(uintptr(orig), "terminal")
	return syscall.Dup2(int(f.Fd()), 2)
}

func run() error {
	fs := flag.NewFlagSet("ramp-sandbox", flag.ContinueOnError)
	dir := fs.String("dir", ".ramp-sandbox", "directory for the sandbox's state and kubeconfig")
	logFile := fs.String("log", "", "file for the control plane's logs (default DIR/control-plane.log)")
	noController := fs.Bool("no-controller", false, "do not run ramp-controller in-process (run it, or a test, separately)")
	withDemo := fs.Bool("demo", false, "serve the demo application, give Services local listeners, run Prometheus and traffic, and create the demo rollouts")
	rps := fs.Int("demo-rps", 20, "requests per second the demo's traffic generator sends")
	dashboardAddr := fs.String("dashboard", "127.0.0.1:3100", "with --demo, serve the dashboard here (a free port if this one is taken; empty: no dashboard)")
	fresh := fs.Bool("fresh", false, "start from nothing: remove DIR's state first")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if *fresh {
		if err := os.RemoveAll(abs); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	if *logFile == "" {
		*logFile = filepath.Join(abs, "control-plane.log")
	}
	log, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	// Libraries of the control plane write to the process's stderr directly
	// (the etcd client's warnings on shutdown, for one): send them to the log
	// too, keeping the terminal for this command's own lines.
	if err := redirectStderr(log); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	fmt.Printf("ramp-sandbox: starting a cluster in %s\n", abs)
	opts := cluster.Options{Dir: abs, Log: log}
	var pods *demo.Pods
	if *withDemo {
		pods = demo.NewPods()
		defer pods.Close()
		opts.Nodes.Server = pods
	}
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Stop()
	controllerDone := make(chan error, 1)
	if *noController {
		close(controllerDone)
	} else {
		ctrl.SetLogger(zap.New(zap.WriteTo(log)))
		go func() {
			controllerDone <- app.Run(ctx, c.Config(), app.Options{})
			close(controllerDone)
		}()
	}
	var next []string
	if *withDemo {
		d, err := startDemo(ctx, c, pods, abs, *rps, *dashboardAddr)
		if err != nil {
			stop() // the in-process controller stops before the cluster does
			<-controllerDone
			return err
		}
		defer d.stop()
		next = d.lines
	}
	fmt.Printf("ramp-sandbox: ready in %.1fs; kubeconfig: %s\n", time.Since(start).Seconds(), c.KubeconfigPath())
	fmt.Printf("  export KUBECONFIG=%s\n", c.KubeconfigPath())
	for _, l := range next {
		fmt.Println(l)
	}
	fmt.Println("  press Ctrl-C to stop")
	select {
	case <-ctx.Done():
	case err := <-controllerDone:
		if err != nil {
			return fmt.Errorf("the in-process controller stopped: %w", err)
		}
		<-ctx.Done()
	}
	fmt.Println("ramp-sandbox: stopping")
	<-controllerDone
	c.Stop()
	fmt.Println("ramp-sandbox: stopped")
	return nil
}
