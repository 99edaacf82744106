// Package scalebench measures ramp-controller on a fleet of rollouts: it
// starts an in-process cluster, runs the controller as a separate process
// with its default flags, creates a fleet of canary Rollouts, watches it at
// rest (RSS and CPU from /proc, API writes from the API server's own
// apiserver_request_total), releases every rollout at once and then one
// among the rest. Pods are simulated, so the figures measure the
// controller, not a data plane. cmd/ramp-bench prints them.
package scalebench
