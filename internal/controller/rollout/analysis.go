package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysisrun"
	"github.com/rampdev/ramp/internal/replicaset"
)

// runName is the name of a run of the current template: suffix is "pre",
// "post", "background" or "step<N>". It is fixed, so a restarted
// controller finds the run it created instead of creating another.
func (s *syncer) runName(suffix string) string {
	return fmt.Sprintf("%s-%s-%s", s.ro.Name, s.hash, suffix)
}

// current is the rollout with the status this reconcile is writing, for
// fieldRef arguments: a run created in the reconcile that moves the preview
// Service sees the new previewSelector, not the one last written.
func (s *syncer) current() *v1alpha1.Rollout {
	ro := *s.ro
	ro.Status = *s.status
	return &ro
}

// analysis makes sure the AnalysisRun of kind (the rollout-type label)
// named by suffix exists for the current template and returns it. A
// template that does not resolve makes the spec unusable (reported,
// retried).
func (s *syncer) analysis(ctx context.Context, kind, suffix string, a *v1alpha1.RolloutAnalysis) (*v1alpha1.AnalysisRun, error) {
	name := s.runName(suffix)
	run := &v1alpha1.AnalysisRun{}
	err := s.r.Client.Get(ctx, ctrl.ObjectKey{Namespace: s.ro.Namespace, Name: name}, run)
	if err == nil {
		return run, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading AnalysisRun %s: %w", name, err)
	}
	stable := ""
	if s.stableRS != nil {
		stable = replicaset.Hash(s.stableRS)
	}
	args, err := analysisrun.RolloutArgs(s.current(), a.Args, stable, s.hash)
	if err == nil {
		var spec *v1alpha1.AnalysisRunSpec
		spec, err = analysisrun.Spec(ctx, s.r.Client, s.ro.Namespace, a.Templates, args)
		if err == nil {
			spec.DryRun = append(spec.DryRun, a.DryRun...)
			spec.MeasurementRetention = append(spec.MeasurementRetention, a.MeasurementRetention...)
			run.Spec = *spec
		}
	}
	var ref *analysisrun.ReferenceError
	if errors.As(err, &ref) {
		return nil, missingReference(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("%s analysis: %s", kind, ref.Msg))
	}
	if err != nil {
		return nil, err
	}
	run.ObjectMeta = metav1.ObjectMeta{
		Name:      name,
		Namespace: s.ro.Namespace,
		Labels: map[string]string{
			replicaset.HashLabel:      s.hash,
			v1alpha1.RolloutTypeLabel: kind,
		},
		Annotations:     map[string]string{v1alpha1.RevisionAnnotation: fmt.Sprint(replicaset.Revision(s.newRS))},
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(s.ro, v1alpha1.SchemeGroupVersion.WithKind("Rollout"))},
	}
	if id := s.ro.Labels[v1alpha1.InstanceIDLabelKey]; id != "" {
		// The controller instance that owns the rollout measures its runs.
		run.Labels[v1alpha1.InstanceIDLabelKey] = id
	}
	for k, v := range a.AnalysisRunMetadata.Labels {
		run.Labels[k] = v
	}
	for k, v := range a.AnalysisRunMetadata.Annotations {
		run.Annotations[k] = v
	}
	if err := s.r.Client.Create(ctx, run); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Created by a reconcile the cache has not seen yet.
			return run, s.r.Client.Get(ctx, ctrl.ObjectKeyFromObject(run), run)
		}
		return nil, fmt.Errorf("creating AnalysisRun %s: %w", name, err)
	}
	s.event(corev1.EventTypeNormal, "AnalysisRunCreated", "Created %s AnalysisRun %s", kind, name)
	return run, nil
}

// runStatus is what the rollout's status records of a run.
func runStatus(run *v1alpha1.AnalysisRun) *v1alpha1.RolloutAnalysisRunStatus {
	phase := run.Status.Phase
	if phase == "" {
		phase = v1alpha1.AnalysisPhasePending
	}
	return &v1alpha1.RolloutAnalysisRunStatus{Name: run.Name, Status: phase, Message: run.Status.Message}
}

// verdict acts on a run's phase: it reports whether the release may go on,
// aborts on Failed or Error, and pauses on Inconclusive.
func (s *syncer) verdict(ctx context.Context, run *v1alpha1.AnalysisRun, kind string) bool {
	switch run.Status.Phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		return true
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError:
		if !s.status.Abort {
			s.status.Abort = true
			s.event(corev1.EventTypeWarning, v1alpha1.ReasonAnalysisRunFailed, "%s AnalysisRun %s is %s: %s", kind, run.Name, run.Status.Phase, run.Status.Message)
		}
		return false
	case v1alpha1.AnalysisPhaseInconclusive:
		return s.inconclusive(run, kind)
	default:
		return false
	}
}

// inconclusive pauses the release on an Inconclusive run until a person
// promotes it, and reports whether it may go on.
func (s *syncer) inconclusive(run *v1alpha1.AnalysisRun, kind string) bool {
	return s.pausedOn(v1alpha1.PauseReasonInconclusiveAnalysis, run.Name, kind+" AnalysisRun "+run.Name)
}

// pausedOn pauses the release, with reason, on the Inconclusive run or
// experiment name (what describes it) until a person promotes it, and
// reports whether it may go on. The pause condition and the name in
// status.pausedOnRuns are written together, in one status write: a named
// run without the condition was promoted past, whenever the promotion came
// and whatever restarts happened around it.
func (s *syncer) pausedOn(reason v1alpha1.PauseReason, name, what string) bool {
	paused := pauseCondition(s.status, reason) != nil
	recorded := slices.Contains(s.status.PausedOnRuns, name)
	if !paused && recorded {
		return true // promoted past it
	}
	if !paused {
		s.status.PauseConditions = append(s.status.PauseConditions, v1alpha1.PauseCondition{
			Reason: reason, StartTime: metav1.NewTime(s.now),
		})
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutPaused, "Rollout is paused: %s is Inconclusive", what)
	}
	if !recorded {
		// Also when another run's pause already holds the rollout: one
		// promotion goes past both.
		s.status.PausedOnRuns = append(s.status.PausedOnRuns, name)
	}
	return false
}

// deleteRuns removes the current template's runs, so that a retry measures
// afresh.
func (s *syncer) deleteRuns(ctx context.Context) error {
	runs, err := s.runs(ctx)
	if err != nil {
		return err
	}
	for i := range runs {
		if err := s.r.Client.Delete(ctx, &runs[i]); ctrl.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting AnalysisRun %s: %w", runs[i].Name, err)
		}
	}
	s.status.BlueGreen.PrePromotionAnalysisRunStatus = nil
	s.status.BlueGreen.PostPromotionAnalysisRunStatus = nil
	s.status.Canary.CurrentStepAnalysisRunStatus = nil
	s.status.Canary.CurrentBackgroundAnalysisRunStatus = nil
	s.status.PausedOnRuns = nil // the runs come again under the same names
	return nil
}

// runs lists the current template's runs that the rollout owns.
func (s *syncer) runs(ctx context.Context) ([]v1alpha1.AnalysisRun, error) {
	var list v1alpha1.AnalysisRunList
	if err := s.r.Client.List(ctx, &list, ctrl.InNamespace(s.ro.Namespace), ctrl.MatchingFields{hashIndex: s.hash}); err != nil {
		return nil, fmt.Errorf("listing AnalysisRuns: %w", err)
	}
	var out []v1alpha1.AnalysisRun
	for _, run := range list.Items {
		if ref := metav1.GetControllerOf(&run); ref != nil && ref.UID == s.ro.UID && run.DeletionTimestamp == nil {
			out = append(out, run)
		}
	}
	return out, nil
}

// terminateRuns asks every unfinished run of the current template, and
// every experiment of the rollout, to stop (spec.terminate), at the end of
// an update or on abort.
func (s *syncer) terminateRuns(ctx context.Context) error {
	if err := s.terminateExperiments(ctx, ""); err != nil {
		return err
	}
	runs, err := s.runs(ctx)
	if err != nil {
		return err
	}
	for i := range runs {
		run := &runs[i]
		if run.Spec.Terminate || run.Status.Phase.Completed() {
			continue
		}
		patch := ctrl.MergeFrom(run.DeepCopy())
		run.Spec.Terminate = true
		if err := s.r.Client.Patch(ctx, run, patch); ctrl.IgnoreNotFound(err) != nil {
			return fmt.Errorf("terminating AnalysisRun %s: %w", run.Name, err)
		}
	}
	return nil
}
