package notify

import (
	"regexp"
	"strings"
)

var (
	wordStart = regexp.MustCompile(`(.)([A-Z][a-z]+)`)
	wordEnd   = regexp.MustCompile(`([a-z0-9])([A-Z])`)
)

// TriggerName is the trigger an event reason fires, as Argo Rollouts names
// it: RolloutCompleted is on-rollout-completed, ScalingReplicaSet
// on-scaling-replica-set, AnalysisRunFailed on-analysis-run-failed.
func TriggerName(reason string) string {
	s := wordStart.ReplaceAllString(reason, "${1}-${2}")
	s = wordEnd.ReplaceAllString(s, "${1}-${2}")
	return "on-" + strings.ToLower(s)
}
