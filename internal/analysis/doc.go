// Package analysis is the judgement of an AnalysisRun, free of any client:
// conditions compiled once with expr-lang/expr and evaluated against a
// measurement's result; the phase of a measurement, of a metric (its
// limits, count and consecutive successes) and of a run (the worst of its
// metrics), in exactly the order Argo Rollouts documents; and the Provider
// interface that measurement sources implement, with the Registry the
// controller builds at start-up.
package analysis
