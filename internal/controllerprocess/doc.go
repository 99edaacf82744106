// Package controllerprocess runs ramp-controller as its own process, as a
// user runs it: the fleet benchmark, the attacker suite and the chaos suite
// start it against the in-process cluster, read its memory and processor
// time from /proc, and stop or kill it.
package controllerprocess
