// Package newrelic is the New Relic metric provider: the block's NRQL runs
// through NerdGraph (New Relic's GraphQL API) for the account of the
// profile's Secret, at its region's endpoint, and the conditions judge the
// result rows, one row as a map and several as a list, as Argo Rollouts
// does.
package newrelic
