// Package providertest is the conformance suite every metric provider
// passes, against a local server that speaks its vendor's wire format:
// the result shape the conditions see, Error (never a verdict) on every
// failure (refused credentials, a 5xx, an answer too large, a server that
// does not answer), the context's cancellation honoured, no goroutine left
// behind, and nothing secret in any message or value.
package providertest
