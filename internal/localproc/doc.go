// Package localproc has the two things every helper process Ramp starts on
// the local machine needs (Prometheus for the sandbox and the tests,
// ramp-controller for the chaos suite and the benchmark): a free local
// address to serve on, and a wait until its ready endpoint answers, given
// up when the process exits first.
package localproc
