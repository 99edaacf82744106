package chaos_test

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// invariants are checked on every watch event; each broken one is recorded
// once, with a message that says what broke.
type invariants struct {
	checks atomic.Int64

	mu sync.Mutex
	// live ReplicaSets by rollout and pod-template hash.
	rss map[string]map[string]bool
	// revision of each pod-template hash, by rollout.
	revisions map[string]int64
	// highest revision each Service has selected.
	selected map[string]int64
	broken   []string
	seen     map[string]bool
}

func newInvariants() *invariants {
	return &invariants{rss: map[string]map[string]bool{}, revisions: map[string]int64{}, selected: map[string]int64{}, seen: map[string]bool{}}
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
	return append([]string(nil), iv.broken...)
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
