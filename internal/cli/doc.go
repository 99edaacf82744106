// Package cli holds the cobra commands of the ramp command-line tool, which
// also runs as the kubectl plugin kubectl-ramp. cmd/ramp only calls
// NewRootCommand.
//
// Reading: info.go loads a rollout and what it owns with label selectors
// only; render.go draws it. Steering: actions.go patches the Rollout as
// docs/actions.md says, deciding again on a conflict. status.go waits with
// a watch; lint.go, convert.go and create.go work on manifests.
package cli
