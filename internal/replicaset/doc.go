// Package replicaset holds what Ramp knows about the ReplicaSets a Rollout
// owns: the pod-template hash that names them, how a new one is built from a
// Rollout, their revisions, and how to tell them apart. It has no client: the
// Rollout controller calls it to decide, then writes.
package replicaset
