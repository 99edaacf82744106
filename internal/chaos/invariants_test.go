package chaos_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis/job"
)

// invariants are checked on every watch event; each broken one is recorded
// once, with a message that says what broke.
type invariants struct {
	checks atomic.Int64
	// weightChecks counts the router weights checked (the fleet's routers
	// must have been seen at work).
	weightChecks atomic.Int64

	mu sync.Mutex
	// live ReplicaSets by rollout and pod-template hash.
	rss map[string]map[string]bool
	// revision of each pod-template hash, by rollout.
	revisions map[string]int64
	// highest revision each Service has selected.
	selected map[string]int64
	// the fleet's kinds, by rollout name (nil: every rollout is checked
	// as a plain one).
	fleet *fleet
	// last status seen of each rollout.
	rollouts map[string]v1alpha1.RolloutStatus
	// step analyses passed ("rollout/hash") and runs seen Successful (by
	// name): each pass needs its run (checked by Broken, since the two
	// come through different watches).
	passed     map[string]bool
	successful map[string]bool
	// live measurement Jobs by run UID, metric and measurement.
	jobs   map[string]map[string]bool
	broken []string
	seen   map[string]bool
}

func newInvariants(f *fleet) *invariants {
	return &invariants{rss: map[string]map[string]bool{}, revisions: map[string]int64{}, selected: map[string]int64{}, seen: map[string]bool{},
		fleet: f, rollouts: map[string]v1alpha1.RolloutStatus{}, passed: map[string]bool{}, successful: map[string]bool{}, jobs: map[string]map[string]bool{}}
}

func (iv *invariants) breaks(name, format string, args ...any) {
	msg := name + ": " + fmt.Sprintf(format, args...)
	if !iv.seen[msg] {
		iv.seen[msg] = true
		iv.broken = append(iv.broken, msg)
	}
}

// Broken is what broke so far.
func (iv *invariants) Broken() []string {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	for key := range iv.passed {
		ro, hash, _ := strings.Cut(key, "/")
		m := iv.fleet.byName[ro]
		if run := fmt.Sprintf("%s-%s-step%d", ro, hash, m.kind.analysisStep); !iv.successful[run] {
			iv.breaks("analysis-not-skipped", "rollout %s went past its analysis step %d for hash %s without a Successful AnalysisRun %s, and nobody promoted it", ro, m.kind.analysisStep+1, hash, run)
		}
	}
	return append([]string(nil), iv.broken...)
}

// rollout checks, on a rollout's event: an abort or a promote --full never
// reaches a new revision (the status that first shows a new pod-template
// hash has neither), and records when an update goes past its analysis
// step.
func (iv *invariants) rollout(ro *v1alpha1.Rollout) {
	iv.checks.Add(1)
	iv.mu.Lock()
	defer iv.mu.Unlock()
	st := ro.Status
	prev, known := iv.rollouts[ro.Name]
	iv.rollouts[ro.Name] = *st.DeepCopy()
	if known && prev.CurrentPodHash != "" && st.CurrentPodHash != prev.CurrentPodHash && (st.Abort || st.PromoteFull) {
		iv.breaks("intent-per-revision", "rollout %s: the status that starts revision %s (after %s) has abort %v, promoteFull %v: an action given for the previous revision reached it",
			ro.Name, st.CurrentPodHash, prev.CurrentPodHash, st.Abort, st.PromoteFull)
	}
	if iv.fleet == nil {
		return
	}
	m, ok := iv.fleet.byName[ro.Name]
	updating := st.StableRS != "" && st.CurrentPodHash != "" && st.StableRS != st.CurrentPodHash
	if ok && m.kind.analysisStep >= 0 && updating && st.CurrentStepIndex != nil && *st.CurrentStepIndex > m.kind.analysisStep {
		iv.passed[ro.Name+"/"+st.CurrentPodHash] = true
	}
}

// Passed is how many updates went past an analysis step.
func (iv *invariants) Passed() int {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	return len(iv.passed)
}

// analysisRun records the runs seen Successful.
func (iv *invariants) analysisRun(run *v1alpha1.AnalysisRun) {
	iv.checks.Add(1)
	if run.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		return
	}
	iv.mu.Lock()
	defer iv.mu.Unlock()
	iv.successful[run.Name] = true
}

// job checks "one Job per measurement" on a measurement Job's event: its
// name ends in the measurement's number and the run's UID prefix.
func (iv *invariants) job(j *batchv1.Job, deleted bool) {
	iv.checks.Add(1)
	uid, metric := j.Labels[job.RunUIDLabel], j.Labels[job.MetricLabel]
	i := strings.LastIndexByte(j.Name, '-')
	if uid == "" || i < 0 {
		return
	}
	rest := j.Name[:i]
	n := rest[strings.LastIndexByte(rest, '-')+1:]
	key := uid + "/" + metric + "/" + n
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if iv.jobs[key] == nil {
		iv.jobs[key] = map[string]bool{}
	}
	if deleted || j.DeletionTimestamp != nil {
		delete(iv.jobs[key], j.Name)
		return
	}
	iv.jobs[key][j.Name] = true
	if len(iv.jobs[key]) > 1 {
		iv.breaks("one-job-per-measurement", "run %s's measurement %s of metric %s has %d Jobs: %v", uid, n, metric, len(iv.jobs[key]), keys(iv.jobs[key]))
	}
}

// weight checks "router weights never move away from where the spec's
// steps allow" on a router object's event.
func (iv *invariants) weight(object, rollout string, w int32, allowed []int32) {
	iv.checks.Add(1)
	iv.weightChecks.Add(1)
	if slices.Contains(allowed, w) {
		return
	}
	iv.mu.Lock()
	defer iv.mu.Unlock()
	iv.breaks("weights-within-steps", "%s gives rollout %s's canary weight %d, which none of its steps sets (%v)", object, rollout, w, allowed)
}

func owner(rs *appsv1.ReplicaSet) string {
	for _, o := range rs.OwnerReferences {
		if o.Kind == "Rollout" {
			return o.Name
		}
	}
	return ""
}

// replicaSet checks "one ReplicaSet per pod-template hash" on an event.
func (iv *invariants) replicaSet(rs *appsv1.ReplicaSet, deleted bool) {
	iv.checks.Add(1)
	ro, hash := owner(rs), rs.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]
	if ro == "" || hash == "" {
		return
	}
	iv.mu.Lock()
	defer iv.mu.Unlock()
	key := ro + "/" + hash
	if rev, err := strconv.ParseInt(rs.Annotations[v1alpha1.RevisionAnnotation], 10, 64); err == nil && rev > iv.revisions[key] {
		iv.revisions[key] = rev
	}
	if iv.rss[key] == nil {
		iv.rss[key] = map[string]bool{}
	}
	if deleted || rs.DeletionTimestamp != nil {
		delete(iv.rss[key], rs.Name)
		return
	}
	iv.rss[key][rs.Name] = true
	if n := len(iv.rss[key]); n > 1 {
		iv.breaks("one-replicaset-per-hash", "rollout %s has %d ReplicaSets for pod-template hash %s: %v", ro, n, hash, keys(iv.rss[key]))
	}
}

// service checks "a Service's selector never goes back to an older
// revision" for the Service that serves a rollout (blue/green's active).
// An aborted rollout may go back: abort is that.
func (iv *invariants) service(svc *corev1.Service, rollout string, aborted func(string) bool) {
	iv.checks.Add(1)
	hash := svc.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]
	if hash == "" {
		return
	}
	iv.mu.Lock()
	defer iv.mu.Unlock()
	rev, known := iv.revisions[rollout+"/"+hash]
	if !known {
		return
	}
	key := svc.Namespace + "/" + svc.Name
	if high := iv.selected[key]; rev < high && !aborted(rollout) {
		iv.breaks("no-flip-back", "Service %s went back from revision %d to revision %d (hash %s) of rollout %s, which is not aborted", key, high, rev, hash, rollout)
	}
	if rev > iv.selected[key] {
		iv.selected[key] = rev
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
