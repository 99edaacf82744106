// Command ramp-controller is Ramp's controller: it reconciles Rollouts,
// AnalysisRuns and Experiments. For now it is a stub that reports its version
// and exits; the reconcilers arrive with the Rollout and analysis issues, in
// internal/app, which this command will only call.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rampdev/ramp/internal/version"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ramp-controller:", err)
		os.Exit(2)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ramp-controller", flag.ContinueOnError)
	fs.SetOutput(out)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(out, "ramp-controller %s\n", version.String())
	if *showVersion {
		return nil
	}
	fmt.Fprintln(out, "ramp-controller: no reconcilers yet; exiting")
	return nil
}
