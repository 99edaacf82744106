// Package rollout is the Rollout reconciler: it turns a Rollout into
// ReplicaSets and Service selectors, and carries a release through its
// strategy.
//
// Each reconcile follows one shape: read the Rollout and what it owns (a
// snapshot), decide and write the changes one step at a time (sync), then
// write the status once, only when it changed. Every decision is taken again
// from what the cluster says on the next reconcile, so the controller can be
// stopped at any line and resume. Time-based work (pauses, scale-down delays)
// is requeued for when it falls due, from an injected clock.
package rollout
