// Command ramp-controller is Ramp's controller: it reconciles Rollouts,
// AnalysisRuns and Experiments. For now it is a stub that reports its version
// and exits; the reconcilers arrive with the Rollout and analysis issues, in
// internal/app, which this command will only call.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/rampdev/ramp/internal/version"
)

func main() {
	fs := flag.NewFlagSet("ramp-controller", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	fmt.Printf("ramp-controller %s\n", version.String())
	if *showVersion {
		return
	}
	fmt.Println("ramp-controller: no reconcilers yet; exiting")
}
