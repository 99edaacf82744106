// Package chaos kills ramp-controller with SIGKILL at random moments, as a
// node failure or an OOM kill would, while a fleet of rollouts goes
// through updates, and checks invariants continuously from watches: at most
// one ReplicaSet per pod-template hash, no Service selector going back to
// an older revision, and every release converging once the kills stop. The
// kills are seeded: a failure prints its seed, and -chaos.seed replays it.
// The package holds tests only: `make test` runs a short run (at least 20
// kills), `make chaos` a long one.
package chaos
