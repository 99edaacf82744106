// Package validation checks Ramp's API objects in Go: every rule of the CRD
// schema and its CEL rules, plus the rules that need more than one field at a
// time or that CEL cannot say cheaply (selectors that match the template,
// routes that must be listed in managedRoutes, routers that cannot do header
// or mirror routes, metric limits against counts...).
//
// The controller reports what these functions return as an InvalidSpec
// condition and event; `ramp lint` prints it offline. Each function returns
// every violation, each with its field path and the rule, never only the
// first, and never panics whatever it is given (the fuzz tests hold it to
// that).
package validation
