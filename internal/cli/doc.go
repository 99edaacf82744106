// Package cli holds the cobra commands of the ramp command-line tool, which
// also runs as the kubectl plugin kubectl-ramp. cmd/ramp only calls
// NewRootCommand.
package cli
