// Package attack plays the attacker against ramp-controller. Whoever can
// write an AnalysisTemplate decides what the one controller of a cluster
// fetches, runs and stores; its tests run the controller as its own
// process, as its ServiceAccount, on the in-process cluster, point
// templates at hostile KPI sources (one that never answers, one that
// streams a gigabyte, a Prometheus with a million series, an OAuth2 token
// endpoint that hangs, a Job whose image never pulls) and check that other
// teams' releases go on in their normal time, that each attack ends with a
// message saying why, that the controller's memory stays bounded, and that
// a Secret's value reaches no object, event, log or CLI output on any error
// path. The package holds tests only.
package attack
