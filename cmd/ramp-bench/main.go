// Command ramp-bench measures ramp-controller on a fleet of rollouts (see
// internal/scalebench):
//
//	make bench-scale                      # 1,000 rollouts
//	make bench-scale BENCH_ROLLOUTS=10000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/rampdev/ramp/internal/scalebench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ramp-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var opts scalebench.Options
	fs := flag.NewFlagSet("ramp-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&opts.Rollouts, "rollouts", 1000, "rollouts in the fleet")
	fs.StringVar(&opts.Kind, "kind", scalebench.KindRollouts, "what the fleet is made of: rollouts, or deployments (plain Deployments, no ramp-controller: the cluster's own cost for the same release)")
	fs.StringVar(&opts.Controller, "controller", "", "the ramp-controller binary (default: ramp-controller beside ramp-bench)")
	controllerArgs := fs.String("controller-args", "", "flags added to the controller's defaults, space-separated")
	fs.BoolVar(&opts.SkipRelease, "skip-release", false, "leave out the release of the whole fleet at once (create, rest, and one release among the rest only)")
	fs.DurationVar(&opts.Rest, "rest", time.Minute, "how long the fleet is watched at rest")
	fs.StringVar(&opts.Dir, "dir", "", "keep the cluster's state and the controller's log here (default: a temporary directory, removed)")
	fs.DurationVar(&opts.Timeout, "timeout", 15*time.Minute, "longest wait for the fleet at each stage")
	pprofAddr := fs.String("pprof-bind-address", "", "serve the bench's own profiles (the in-process cluster's) at this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	opts.ControllerArgs = strings.Fields(*controllerArgs)
	if opts.Controller == "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		opts.Controller = filepath.Join(filepath.Dir(self), "ramp-controller")
	}
	ctrl.SetLogger(logr.Discard())
	if *pprofAddr != "" {
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }()
	}
	_, err := scalebench.Run(ctx, opts, out)
	return err
}
