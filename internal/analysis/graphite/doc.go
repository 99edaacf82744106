// Package graphite is the Graphite metric provider: the block's query is a
// render query string (target=...&from=-5min), sent to address's /render
// with format=json; the conditions judge the non-null values of the first
// target, as Argo Rollouts does.
package graphite
