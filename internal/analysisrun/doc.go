// Package analysisrun builds AnalysisRuns from the templates a Rollout (or
// a user, through the CLI) names: it merges the metrics, dry-run and
// retention settings of AnalysisTemplates and ClusterAnalysisTemplates,
// nested templates included, and resolves arguments. Secret arguments stay
// references: their values are read only when measuring, never written
// into the run.
package analysisrun
