package operate

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

// Info is everything `get rollout` shows: the rollout and, per
// revision, its ReplicaSet, pods, AnalysisRuns and their Jobs.
type Info struct {
	Rollout   *v1alpha1.Rollout
	Revisions []*Revision // newest first
}

// Revision is one of the rollout's ReplicaSets and what belongs to it.
type Revision struct {
	// Number is the ReplicaSet's revision annotation.
	Number int
	RS     *appsv1.ReplicaSet
	// Hash is the pod-template hash that labels its pods.
	Hash string
	Pods []corev1.Pod
	// Runs are its AnalysisRuns, newest first.
	Runs []Run
	// Experiments are the canary's experiment steps for this revision.
	Experiments []*ExperimentInfo
}

// Run is an AnalysisRun and the Jobs its job metrics created.
type Run struct {
	Run  *v1alpha1.AnalysisRun
	Jobs []batchv1.Job
}

// Load reads what belongs to ro and nothing else: ReplicaSets and pods by
// the rollout's selector, AnalysisRuns by the ReplicaSets' hashes, Jobs by
// the runs' UIDs, each kept only if ro (or its run) owns it. The namespace
// is never listed whole (Argo Rollouts' users' issue #1711).
func Load(ctx context.Context, cl client.Reader, ro *v1alpha1.Rollout) (*Info, error) {
	info := &Info{Rollout: ro}
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
	byHash := map[string]*Revision{}
	var hashes []string
	for i := range rss.Items {
		rs := &rss.Items[i]
		if !ownedBy(rs.OwnerReferences, ro.UID) {
			continue
		}
		n, _ := strconv.Atoi(rs.Annotations[v1alpha1.RevisionAnnotation])
		rev := &Revision{Number: n, RS: rs, Hash: rs.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]}
		info.Revisions = append(info.Revisions, rev)
		byHash[rev.Hash] = rev
		hashes = append(hashes, rev.Hash)
	}
	slices.SortFunc(info.Revisions, func(a, b *Revision) int { return b.Number - a.Number })
	if len(hashes) == 0 {
		return info, nil
	}
	pods := &corev1.PodList{}
	if err := cl.List(ctx, pods, ns, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing the rollout's Pods: %w", err)
	}
	for _, p := range pods.Items {
		if rev := byHash[p.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]]; rev != nil && ownedBy(p.OwnerReferences, rev.RS.UID) {
			rev.Pods = append(rev.Pods, p)
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
		x, err := LoadExperiment(ctx, cl, ex)
		if err != nil {
			return nil, err
		}
		rev.Experiments = append(rev.Experiments, x)
	}
	var uids []string
	for i := range runs.Items {
		run := &runs.Items[i]
		if rev := byHash[run.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]]; rev != nil && ownedBy(run.OwnerReferences, ro.UID) {
			rev.Runs = append(rev.Runs, Run{Run: run})
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
		for _, rev := range info.Revisions {
			for i := range rev.Runs {
				for _, j := range jobs.Items {
					if j.Labels[runUIDLabel] == string(rev.Runs[i].Run.UID) {
						rev.Runs[i].Jobs = append(rev.Runs[i].Jobs, j)
					}
				}
			}
		}
	}
	for _, rev := range info.Revisions {
		slices.SortFunc(rev.Pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(rev.Runs, func(a, b Run) int {
			if c := a.Run.CreationTimestamp.Compare(b.Run.CreationTimestamp.Time); c != 0 {
				return -c
			}
			return strings.Compare(a.Run.Name, b.Run.Name)
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

// Roles are what a revision is to the rollout: stable, canary, active,
// preview.
func (info *Info) Roles(rev *Revision) []string {
	ro := info.Rollout
	var out []string
	st := ro.Status
	switch {
	case ro.Spec.Strategy.BlueGreen != nil:
		if rev.Hash == st.StableRS {
			out = append(out, "stable")
		}
		if rev.Hash == st.BlueGreen.ActiveSelector {
			out = append(out, "active")
		}
		if ro.Spec.Strategy.BlueGreen.PreviewService != "" && rev.Hash == st.BlueGreen.PreviewSelector && rev.Hash != st.BlueGreen.ActiveSelector {
			out = append(out, "preview")
		}
	default:
		if rev.Hash == st.StableRS {
			out = append(out, "stable")
		}
		if rev.Hash == st.CurrentPodHash && rev.Hash != st.StableRS {
			out = append(out, "canary")
		}
	}
	return out
}
