// Package operate is what people see of a rollout and do to it, shared by
// the CLI (internal/cli) and the dashboard (internal/dashboard) so both show
// the same thing and act through the same code paths with the same
// refusals.
//
// Load reads a rollout's revisions, ReplicaSets, pods, AnalysisRuns, Jobs and
// Experiments (by label and owner, never the whole namespace); the status
// helpers (Phase, ActualWeight, PauseLeft...) say what `ramp get rollout`
// prints. The actions (Promote, Abort, Retry, Pause, Resume, Restart) and
// the template edits (SetImages, Undo) are applied by Do and EditTemplate
// with a merge patch guarded by the resourceVersion read, and only while
// the rollout is in the State the user decided on: an action decided on a
// state that moved on is refused (MovedOnError), never applied to a state
// nobody saw.
package operate
