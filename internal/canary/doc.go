// Package canary is the arithmetic of a canary release, free of any client:
// how many pods the new and stable ReplicaSets get at a given weight, with
// and without traffic routing, within maxSurge and maxUnavailable; which
// weight, canary scale and pause a step index stands for; and the hash that
// tells when the steps changed. The Rollout reconciler feeds it what the
// cluster says and writes back what it returns, so every corner case (one
// replica, zero replicas, odd counts, maxSurge 0, a resize mid-rollout) is
// tested here as a table.
package canary
