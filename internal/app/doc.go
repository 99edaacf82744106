// Package app assembles ramp-controller: the scheme, the controller-runtime
// manager with caches that hold only what Ramp owns, and the reconcilers with
// their dependencies (clock, event recorder). cmd/ramp-controller parses
// flags into Options and calls Run; ramp-sandbox and the tests call
// NewManager and Setup to run the same controller in-process.
package app
