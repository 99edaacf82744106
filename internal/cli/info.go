package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// runUIDLabel is on the Jobs a job metric creates (analysis/job).
const runUIDLabel = "analysisrun.ramp.dev/uid"

// rolloutInfo is everything `get rollout` shows: the rollout and, per
// revision, its ReplicaSet, pods, AnalysisRuns and their Jobs.
type rolloutInfo struct {
	ro        *v1alpha1.Rollout
	revisions []*revision // newest first
}

type revision struct {
	number int
	rs     *appsv1.ReplicaSet
	hash   string
	pods   []corev1.Pod
	runs   []runInfo
	// experiments are the canary's experiment steps for this revision.
	experiments []*experimentInfo
}

type runInfo struct {
	run  *v1alpha1.AnalysisRun
	jobs []batchv1.Job
}

// load reads what belongs to ro and nothing else: ReplicaSets and pods by
// the rollout's selector, AnalysisRuns by the ReplicaSets' hashes, Jobs by
// the runs' UIDs, each kept only if ro (or its run) owns it. The namespace
// is never listed whole (Argo Rollouts' users' issue #1711).
func load(ctx context.Context, cl client.Reader, ro *v1alpha1.Rollout) (*rolloutInfo, error) {
	info := &rolloutInfo{ro: ro}
	ns := client.InNamespace(ro.Namespace)
	sel := labels.Everything()
	if ro.Spec.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(ro.Spec.Selector)
		if err != nil {
			return nil, fmt.Errorf("spec.selector: %w", err)
		}
		sel = s
	}
	rss := &appsv1.ReplicaSetList{}
	if err := cl.List(ctx, rss, ns, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing the rollout's ReplicaSets: %w", err)
	}
	byHash := map[string]*revision{}
	var hashes []string
	for i := range rss.Items {
		rs := &rss.Items[i]
		if !ownedBy(rs.OwnerReferences, ro.UID) {
			continue
		}
		n, _ := strconv.Atoi(rs.Annotations[v1alpha1.RevisionAnnotation])
		rev := &revision{number: n, rs: rs, hash: rs.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]}
		info.revisions = append(info.revisions, rev)
		byHash[rev.hash] = rev
		hashes = append(hashes, rev.hash)
	}
	slices.SortFunc(info.revisions, func(a, b *revision) int { return b.number - a.number })
	if len(hashes) == 0 {
		return info, nil
	}
	pods := &corev1.PodList{}
	if err := cl.List(ctx, pods, ns, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing the rollout's pods: %w", err)
	}
	for _, p := range pods.Items {
		if rev := byHash[p.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]]; rev != nil && ownedBy(p.OwnerReferences, rev.rs.UID) {
			rev.pods = append(rev.pods, p)
		}
	}
	inHashes, err := labels.NewRequirement(v1alpha1.DefaultRolloutUniqueLabelKey, selection.In, hashes)
	if err != nil {
		return nil, err
	}
	runs := &v1alpha1.AnalysisRunList{}
	if err := cl.List(ctx, runs, ns, client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*inHashes)}); err != nil {
		return nil, fmt.Errorf("listing the rollout's AnalysisRuns: %w", err)
	}
	exps := &v1alpha1.ExperimentList{}
	if hasExperimentSteps(ro) {
		if err := cl.List(ctx, exps, ns, client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*inHashes)}); err != nil {
			return nil, fmt.Errorf("listing the rollout's Experiments: %w", err)
		}
	}
	for i := range exps.Items {
		ex := &exps.Items[i]
		rev := byHash[ex.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]]
		if rev == nil || !ownedBy(ex.OwnerReferences, ro.UID) {
			continue
		}
		x, err := loadExperiment(ctx, cl, ex)
		if err != nil {
			return nil, err
		}
		rev.experiments = append(rev.experiments, x)
	}
	var uids []string
	for i := range runs.Items {
		run := &runs.Items[i]
		if rev := byHash[run.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]]; rev != nil && ownedBy(run.OwnerReferences, ro.UID) {
			rev.runs = append(rev.runs, runInfo{run: run})
			uids = append(uids, string(run.UID))
		}
	}
	if len(uids) > 0 {
		inRuns, err := labels.NewRequirement(runUIDLabel, selection.In, uids)
		if err != nil {
			return nil, err
		}
		jobs := &batchv1.JobList{}
		if err := cl.List(ctx, jobs, ns, client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*inRuns)}); err != nil {
			return nil, fmt.Errorf("listing the runs' Jobs: %w", err)
		}
		for _, rev := range info.revisions {
			for i := range rev.runs {
				for _, j := range jobs.Items {
					if j.Labels[runUIDLabel] == string(rev.runs[i].run.UID) {
						rev.runs[i].jobs = append(rev.runs[i].jobs, j)
					}
				}
			}
		}
	}
	for _, rev := range info.revisions {
		slices.SortFunc(rev.pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(rev.runs, func(a, b runInfo) int {
			if c := a.run.CreationTimestamp.Compare(b.run.CreationTimestamp.Time); c != 0 {
				return -c
			}
			return strings.Compare(a.run.Name, b.run.Name)
		})
	}
	return info, nil
}

// hasExperimentSteps reports whether the rollout's canary has experiment
// steps: only then are its Experiments listed.
func hasExperimentSteps(ro *v1alpha1.Rollout) bool {
	if c := ro.Spec.Strategy.Canary; c != nil {
		for _, s := range c.Steps {
			if s.Experiment != nil {
				return true
			}
		}
	}
	return false
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

// roles are what a revision is to the rollout: stable, canary, active,
// preview.
func (info *rolloutInfo) roles(rev *revision) []string {
	ro := info.ro
	var out []string
	st := ro.Status
	switch {
	case ro.Spec.Strategy.BlueGreen != nil:
		if rev.hash == st.StableRS {
			out = append(out, "stable")
		}
		if rev.hash == st.BlueGreen.ActiveSelector {
			out = append(out, "active")
		}
		if ro.Spec.Strategy.BlueGreen.PreviewService != "" && rev.hash == st.BlueGreen.PreviewSelector && rev.hash != st.BlueGreen.ActiveSelector {
			out = append(out, "preview")
		}
	default:
		if rev.hash == st.StableRS {
			out = append(out, "stable")
		}
		if rev.hash == st.CurrentPodHash && rev.hash != st.StableRS {
			out = append(out, "canary")
		}
	}
	return out
}
