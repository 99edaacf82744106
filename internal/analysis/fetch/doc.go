// Package fetch is how metric providers reach KPI sources over HTTP, so
// that a source that is slow, huge or hostile costs only its own
// measurement: transports are shared across measurements (connections
// reused, idle ones closed), every answer is read through a size cap, and
// OAuth2 tokens are fetched once per client and within the measurement's
// deadline.
package fetch
