// Package datadog is the Datadog metric provider: a v1 metrics query
// (GET /api/v1/query, the last point of the first series) or v2 scalar
// queries combined by a formula (POST /api/v2/query/scalar, one value, or
// one per group with "by {tag}"), over the window interval, with the
// api-key and app-key of the Secret (or environment) Argo Rollouts
// documents. Results have the shapes Argo's conditions expect.
package datadog
