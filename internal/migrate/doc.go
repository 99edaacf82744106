// Package migrate moves what Argo Rollouts runs to Ramp's API without a
// redeploy, and converts Argo manifests.
//
// Convert rewrites one manifest object (apiVersion, Argo's label and
// annotation keys) and says what Ramp would not run; `ramp convert` uses it
// on files.
//
// A Migrator moves live objects, for `ramp migrate`. Plan reads the
// cluster and decides, Rollout by Rollout, whether it can be moved (not
// while Argo's controller holds its leader Lease; not a Rollout that is
// mid-update unless forced; not one using what Ramp does not run); Migrate
// creates each Ramp Rollout under the ramp.dev/migrating annotation (Ramp's
// controller leaves such a Rollout alone), gives it the Argo Rollout's
// status, moves the ReplicaSets' and Ingresses' controller references with
// optimistic concurrency, marks the Services as Ramp's without touching
// their selectors, and removes the annotation last. Every step can be run
// again, so a migration cut short is resumed by running it again.
// PlanUndo and UndoMigration hand the objects back to the Argo Rollouts,
// which Migrate leaves in place.
//
// Ramp names ReplicaSets with Argo's pod-template hash
// (replicaset.TemplateHash), so the ReplicaSets keep their names and pods.
package migrate
