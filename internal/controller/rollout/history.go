package rollout

import (
	"context"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// rolloutOwnerIndex indexes AnalysisRuns and Experiments by the name of
// the Rollout that controls them.
const rolloutOwnerIndex = ".metadata.controller.rollout.owned"

// historyLimits are spec.analysis.successfulRunHistoryLimit and
// unsuccessfulRunHistoryLimit, defaulted (5 and 5, as Argo Rollouts).
func historyLimits(ro *v1alpha1.Rollout) (successful, unsuccessful int) {
	successful, unsuccessful = int(v1alpha1.DefaultSuccessfulRunHistoryLimit), int(v1alpha1.DefaultUnsuccessfulRunHistoryLimit)
	if a := ro.Spec.Analysis; a != nil {
		successful = int(ptr.Deref(a.SuccessfulRunHistoryLimit, int32(successful)))
		unsuccessful = int(ptr.Deref(a.UnsuccessfulRunHistoryLimit, int32(unsuccessful)))
	}
	return successful, unsuccessful
}

// finished is one finished AnalysisRun or Experiment of an earlier
// release, a candidate for garbage collection.
type finished struct {
	obj        ctrl.Object
	successful bool
}

// collectHistory deletes the rollout's finished AnalysisRuns and
// Experiments beyond the history limits: the newest successful ones and
// the newest unsuccessful ones (Failed, Error, Inconclusive) are kept, the
// older ones deleted. Only earlier releases' are candidates: what belongs
// to the current template (its pod-template hash), what the status names,
// and what has not finished are never touched. Read from the cache; a
// rollout within its limits writes nothing.
func (s *syncer) collectHistory(ctx context.Context) error {
	if s.hash == "" {
		return nil
	}
	current := s.currentNames()
	var runs v1alpha1.AnalysisRunList
	if err := s.r.Client.List(ctx, &runs, ctrl.InNamespace(s.ro.Namespace), ctrl.MatchingFields{rolloutOwnerIndex: s.ro.Name}); err != nil {
		return fmt.Errorf("listing AnalysisRuns: %w", err)
	}
	var candidates []finished
	for i := range runs.Items {
		run := &runs.Items[i]
		if s.oldAndFinished(run, run.Status.Phase, current) {
			candidates = append(candidates, finished{obj: run, successful: run.Status.Phase == v1alpha1.AnalysisPhaseSuccessful})
		}
	}
	experiments, err := s.experiments(ctx)
	if err != nil {
		return err
	}
	for i := range experiments {
		ex := &experiments[i]
		if s.oldAndFinished(ex, ex.Status.Phase, current) {
			candidates = append(candidates, finished{obj: ex, successful: ex.Status.Phase == v1alpha1.AnalysisPhaseSuccessful})
		}
	}
	successful, unsuccessful := historyLimits(s.ro)
	for _, obj := range beyondLimits(candidates, successful, unsuccessful) {
		uid := obj.GetUID()
		if err := s.r.Client.Delete(ctx, obj, ctrl.Preconditions{UID: &uid}); ctrl.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting %s %s (history limit): %w", kindOf(obj), obj.GetName(), err)
		}
	}
	return nil
}

// oldAndFinished reports whether obj, owned by the rollout, is a finished
// one of an earlier release that the status does not name.
func (s *syncer) oldAndFinished(obj ctrl.Object, phase v1alpha1.AnalysisPhase, current map[string]bool) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == s.ro.UID && obj.GetDeletionTimestamp() == nil &&
		phase.Completed() && obj.GetLabels()[replicaset.HashLabel] != s.hash && !current[obj.GetName()]
}

// currentNames are the runs and the experiment the status being written
// names (what the status read names but this one no longer does belongs to
// an earlier release: waiting for the write to come back would need
// another reconcile, which a rollout at rest never gets).
func (s *syncer) currentNames() map[string]bool {
	names := map[string]bool{}
	add := func(st *v1alpha1.RolloutAnalysisRunStatus) {
		if st != nil && st.Name != "" {
			names[st.Name] = true
		}
	}
	st := s.status
	add(st.BlueGreen.PrePromotionAnalysisRunStatus)
	add(st.BlueGreen.PostPromotionAnalysisRunStatus)
	add(st.Canary.CurrentStepAnalysisRunStatus)
	add(st.Canary.CurrentBackgroundAnalysisRunStatus)
	if st.Canary.CurrentExperiment != "" {
		names[st.Canary.CurrentExperiment] = true
	}
	return names
}

// beyondLimits are the candidates past the newest successful and
// unsuccessful ones kept, newest first by creation (then name).
func beyondLimits(candidates []finished, successful, unsuccessful int) []ctrl.Object {
	sort.SliceStable(candidates, func(i, j int) bool {
		a, b := candidates[i].obj, candidates[j].obj
		if ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp(); !ta.Equal(&tb) {
			return tb.Before(&ta)
		}
		return a.GetName() > b.GetName()
	})
	var out []ctrl.Object
	keptOK, keptBad := 0, 0
	for _, c := range candidates {
		switch {
		case c.successful && keptOK < successful:
			keptOK++
		case !c.successful && keptBad < unsuccessful:
			keptBad++
		default:
			out = append(out, c.obj)
		}
	}
	return out
}

func kindOf(obj ctrl.Object) string {
	if _, ok := obj.(*v1alpha1.Experiment); ok {
		return "Experiment"
	}
	return "AnalysisRun"
}
