// Package analysisrun is the AnalysisRun reconciler: it resolves a run's
// arguments, takes each metric's measurements through its provider when
// they fall due (requeueing for the next one, never polling), judges them
// with the metric's conditions and limits, and sets the run's phase. A
// finished run costs nothing: its reconcile returns before any work, and
// only its ttlStrategy schedules anything.
package analysisrun
