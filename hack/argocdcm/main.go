// Command argocdcm writes config/argocd/argocd-cm.yaml from the Lua scripts
// beside it (run by `make generate`).
package main

import (
	"fmt"
	"os"

	"github.com/rampdev/ramp/config/argocd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocdcm OUTPUT")
		os.Exit(2)
	}
	b, err := argocd.ConfigMapYAML()
	if err == nil {
		err = os.WriteFile(os.Args[1], b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
