// Package rollout is the Rollout reconciler: it turns a Rollout into
// ReplicaSets and Service selectors, and carries a release through its
// strategy.
//
// Each reconcile follows one shape, read top to bottom in Reconcile:
//
//  1. Read the Rollout; keep its finalizer and routing record (finalizer.go).
//  2. Validate it, and read what it owns (snapshot, replicasets.go).
//  3. Carry its strategy one step: syncBlueGreen (a blueGreenRun) or
//     syncCanary (a canaryRun), each a sequence of small steps that decide
//     from the snapshot and write what differs. The sizes and weights of a
//     step come from the pure arithmetic of package canary.
//  4. Write the status once, only when it changed, on the resourceVersion
//     read (a user's action landing meanwhile makes it fail and the next
//     reconcile decide again).
//
// A step that finds the spec cannot be acted on returns a stopped error,
// which ends the sync; what a reconcile learnt besides its writes (when to
// come back, the messages of the status) is its result. Every write is
// idempotent and recognisable on restart, so the controller can be killed
// at any line and resume: docs/controller.md lists, for each write, what a
// crash before or after it leaves, and the chaos suite (internal/chaos)
// kills it there. Time-based work (pauses, scale-down delays) is requeued
// for when it falls due, from an injected clock.
package rollout
