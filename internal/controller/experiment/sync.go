package experiment

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysisrun"
	"github.com/rampdev/ramp/internal/replicaset"
	"github.com/rampdev/ramp/internal/validation"
)

// Defaults of the spec's optional durations, as Argo Rollouts has them.
const (
	defaultProgressDeadline = 600 * time.Second
	defaultScaleDownDelay   = 30 * time.Second
)

// completed is the condition whose transition time says when the
// experiment ended (for the scale-down delay and {{experiment.finishedAt}}).
const completed v1alpha1.ExperimentConditionType = "Completed"

// sync reads top to bottom: a spec the controller cannot run is an Error;
// the templates' ReplicaSets; then an ended experiment winds down, and a
// running one waits for its templates, runs its analyses and ends when it
// is due.
func (x *run) sync(ctx context.Context) error {
	if x.status.Phase == "" {
		x.status.Phase = v1alpha1.AnalysisPhasePending
	}
	if x.ended() {
		return x.windDown(ctx)
	}
	if msg := x.refused(); msg != "" {
		x.finish(ctx, v1alpha1.AnalysisPhaseError, msg)
		return nil
	}
	if msg, err := x.foreignService(ctx); err != nil || msg != "" {
		if msg != "" {
			x.finish(ctx, v1alpha1.AnalysisPhaseError, msg)
		}
		return err
	}
	if err := x.templates(ctx); err != nil {
		var foreign *errForeignService
		if errors.As(err, &foreign) {
			x.finish(ctx, v1alpha1.AnalysisPhaseError, foreign.msg)
			return nil
		}
		return err
	}
	if x.exp.Spec.Terminate {
		x.finish(ctx, x.verdictOf(ctx, v1alpha1.AnalysisPhaseSuccessful), "terminated")
		return nil
	}
	if !x.available() {
		return nil
	}
	if x.status.AvailableAt == nil {
		at := metav1.NewTime(x.now)
		x.status.AvailableAt = &at
		x.event(corev1.EventTypeNormal, "ExperimentRunning", "Every template is available")
	}
	x.status.Phase = v1alpha1.AnalysisPhaseRunning
	x.status.Message = ""
	if err := x.analyses(ctx); err != nil {
		return err
	}
	x.judge(ctx)
	return nil
}

func (x *run) ended() bool { return x.status.Phase.Completed() }

// refused says why the spec cannot run (empty when it can).
func (x *run) refused() string {
	if errs := validation.Experiment(x.exp); len(errs) > 0 {
		return errs.ToAggregate().Error()
	}
	return ""
}

// rsName is the ReplicaSet of a template.
func (x *run) rsName(template string) string { return x.exp.Name + "-" + template }

// templates makes each template's ReplicaSet exist at its size and reports
// it in the status.
func (x *run) templates(ctx context.Context) error {
	x.rss = map[string]*appsv1.ReplicaSet{}
	var statuses []v1alpha1.TemplateStatus
	for i := range x.exp.Spec.Templates {
		t := &x.exp.Spec.Templates[i]
		rs, err := x.replicaSet(ctx, t)
		if err != nil {
			return err
		}
		x.rss[t.Name] = rs
		st := x.templateStatus(t, rs)
		if st.ServiceName, err = x.service(ctx, i, t, rs); err != nil {
			return err
		}
		statuses = append(statuses, st)
	}
	x.status.TemplateStatuses = statuses
	return nil
}

// replicaSet finds or creates the ReplicaSet of template t, at the
// template's size.
func (x *run) replicaSet(ctx context.Context, t *v1alpha1.TemplateSpec) (*appsv1.ReplicaSet, error) {
	rs := &appsv1.ReplicaSet{}
	err := x.r.Client.Get(ctx, client.ObjectKey{Namespace: x.exp.Namespace, Name: x.rsName(t.Name)}, rs)
	switch {
	case err == nil:
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != x.exp.UID {
			return nil, fmt.Errorf("ReplicaSet %s exists and is not Experiment %s's", rs.Name, x.exp.Name)
		}
		return rs, x.scale(ctx, rs, ptr.Deref(t.Replicas, 1))
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading ReplicaSet %s: %w", x.rsName(t.Name), err)
	}
	rs = x.newReplicaSet(t)
	if err := x.r.Client.Create(ctx, rs); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Created by a reconcile the cache has not seen yet.
			return rs, x.r.Client.Get(ctx, client.ObjectKeyFromObject(rs), rs)
		}
		return nil, fmt.Errorf("creating ReplicaSet %s: %w", rs.Name, err)
	}
	x.event(corev1.EventTypeNormal, v1alpha1.ReasonNewReplicaSetCreated, "Created ReplicaSet %s for template %s", rs.Name, t.Name)
	return rs, nil
}

// newReplicaSet is the ReplicaSet of template t: its pods carry the
// pod-template hash, which the selector includes, so they never mix with
// another version's.
func (x *run) newReplicaSet(t *v1alpha1.TemplateSpec) *appsv1.ReplicaSet {
	tpl := t.Template.DeepCopy()
	if tpl.Labels == nil {
		tpl.Labels = map[string]string{}
	}
	// The pods carry the experiment's labels, which go into the hash: a
	// template copied from a Rollout's never gets that ReplicaSet's hash, so
	// the Rollout's Services (which select by hash) never send it traffic.
	tpl.Labels[v1alpha1.ExperimentNameLabelKey] = x.exp.Name
	tpl.Labels[v1alpha1.ExperimentTemplateNameLabelKey] = t.Name
	hash := replicaset.TemplateHash(tpl, nil)
	tpl.Labels[v1alpha1.DefaultRolloutUniqueLabelKey] = hash
	selector := t.Selector.DeepCopy()
	if selector == nil {
		selector = &metav1.LabelSelector{}
	}
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[v1alpha1.DefaultRolloutUniqueLabelKey] = hash
	labels := maps.Clone(tpl.Labels)
	if id := x.exp.Labels[v1alpha1.InstanceIDLabelKey]; id != "" {
		labels[v1alpha1.InstanceIDLabelKey] = id
	}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            x.rsName(t.Name),
			Namespace:       x.exp.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(x.exp, v1alpha1.SchemeGroupVersion.WithKind("Experiment"))},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To(ptr.Deref(t.Replicas, 1)),
			MinReadySeconds: t.MinReadySeconds,
			Selector:        selector,
			Template:        *tpl,
		},
	}
}

// scale sets a ReplicaSet's size (no write when it has it).
func (x *run) scale(ctx context.Context, rs *appsv1.ReplicaSet, n int32) error {
	if ptr.Deref(rs.Spec.Replicas, 1) == n {
		return nil
	}
	patch := client.MergeFromWithOptions(rs.DeepCopy(), client.MergeFromWithOptimisticLock{})
	rs.Spec.Replicas = ptr.To(n)
	if err := x.r.Client.Patch(ctx, rs, patch); err != nil {
		return fmt.Errorf("scaling ReplicaSet %s to %d: %w", rs.Name, n, err)
	}
	x.event(corev1.EventTypeNormal, v1alpha1.ReasonScalingReplicaSet, "Scaled ReplicaSet %s to %d", rs.Name, n)
	return nil
}

func (x *run) templateStatus(t *v1alpha1.TemplateSpec, rs *appsv1.ReplicaSet) v1alpha1.TemplateStatus {
	st := v1alpha1.TemplateStatus{
		Name: t.Name, Replicas: rs.Status.Replicas, UpdatedReplicas: rs.Status.Replicas,
		ReadyReplicas: rs.Status.ReadyReplicas, AvailableReplicas: rs.Status.AvailableReplicas,
		PodTemplateHash: replicaset.Hash(rs),
	}
	want := ptr.Deref(t.Replicas, 1)
	st.Status = v1alpha1.TemplateStatusProgressing
	if replicaset.Available(rs, want) {
		st.Status = v1alpha1.TemplateStatusRunning
	} else {
		st.Message = fmt.Sprintf("%d of %d pods available", rs.Status.AvailableReplicas, want)
	}
	for _, old := range x.status.TemplateStatuses {
		if old.Name == t.Name && old.Status == st.Status && old.LastTransitionTime != nil {
			st.LastTransitionTime = old.LastTransitionTime
		}
	}
	if st.LastTransitionTime == nil {
		at := metav1.NewTime(x.now)
		st.LastTransitionTime = &at
	}
	return st
}

// available reports whether every template is available; before that, it
// fails the experiment at its progress deadline, naming the template.
func (x *run) available() bool {
	var waiting []string
	for _, st := range x.status.TemplateStatuses {
		if st.Status != v1alpha1.TemplateStatusRunning {
			waiting = append(waiting, fmt.Sprintf("template %s: %s", st.Name, st.Message))
		}
	}
	if len(waiting) == 0 {
		return true
	}
	if x.status.AvailableAt != nil {
		// Available once: a pod lost later is the ReplicaSet's to replace.
		return true
	}
	deadline := defaultProgressDeadline
	if d := x.exp.Spec.ProgressDeadlineSeconds; d != nil {
		deadline = time.Duration(*d) * time.Second
	}
	due := x.exp.CreationTimestamp.Add(deadline)
	if !x.now.Before(due) {
		x.finish(context.Background(), v1alpha1.AnalysisPhaseFailed, fmt.Sprintf("not available within the progress deadline (%s): %s", deadline, strings.Join(waiting, "; ")))
		return false
	}
	x.status.Message = "waiting for " + strings.Join(waiting, "; ")
	x.wake(due.Sub(x.now))
	return false
}

// vars are the template variables of analysis arguments.
func (x *run) vars() *strings.Replacer {
	var pairs []string
	for name, rs := range x.rss {
		pairs = append(pairs,
			"{{templates."+name+".podTemplateHash}}", replicaset.Hash(rs),
			"{{templates."+name+".replicaset.name}}", rs.Name)
	}
	if at := x.status.AvailableAt; at != nil {
		pairs = append(pairs, "{{experiment.availableAt}}", at.UTC().Format(time.RFC3339))
	}
	if c := x.condition(); c != nil {
		pairs = append(pairs, "{{experiment.finishedAt}}", c.LastTransitionTime.UTC().Format(time.RFC3339))
	}
	return strings.NewReplacer(pairs...)
}

// runName is the AnalysisRun of an analysis.
func (x *run) runName(analysis string) string { return x.exp.Name + "-" + analysis }

// analyses makes each analysis's run exist and records its phase.
func (x *run) analyses(ctx context.Context) error {
	vars := x.vars()
	var statuses []v1alpha1.ExperimentAnalysisRunStatus
	for _, a := range x.exp.Spec.Analyses {
		r, err := x.analysisRun(ctx, a, vars)
		if err != nil {
			return err
		}
		if r == nil {
			return nil // the experiment ended (its template did not resolve), or an old run is going
		}
		phase := r.Status.Phase
		if phase == "" {
			phase = v1alpha1.AnalysisPhasePending
		}
		statuses = append(statuses, v1alpha1.ExperimentAnalysisRunStatus{Name: a.Name, AnalysisRun: r.Name, Phase: phase, Message: r.Status.Message})
	}
	x.status.AnalysisRuns = statuses
	return nil
}

func (x *run) analysisRun(ctx context.Context, a v1alpha1.ExperimentAnalysisTemplateRef, vars *strings.Replacer) (*v1alpha1.AnalysisRun, error) {
	r := &v1alpha1.AnalysisRun{}
	name := x.runName(a.Name)
	err := x.r.Client.Get(ctx, client.ObjectKey{Namespace: x.exp.Namespace, Name: name}, r)
	if st := x.runStatus(a.Name); err == nil && r.Status.Phase.Completed() && (st == nil || !st.Phase.Completed()) && x.r.APIReader != nil {
		// A verdict the status has not recorded yet is read from the API
		// server, once: `ramp retry experiment` deletes the finished runs,
		// and a cache that has not seen it must not end the new attempt.
		err = x.r.APIReader.Get(ctx, client.ObjectKeyFromObject(r), r)
	}
	if err == nil && r.DeletionTimestamp != nil {
		x.wake(time.Second) // a retry's deletion in progress
		return nil, nil
	}
	if err == nil {
		return r, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading AnalysisRun %s: %w", name, err)
	}
	args := make([]v1alpha1.Argument, 0, len(a.Args))
	for _, arg := range a.Args {
		arg = *arg.DeepCopy()
		if arg.Value != nil {
			arg.Value = ptr.To(vars.Replace(*arg.Value))
		}
		args = append(args, arg)
	}
	spec, err := analysisrun.Spec(ctx, x.r.Client, x.exp.Namespace, []v1alpha1.AnalysisTemplateRef{{TemplateName: a.TemplateName, ClusterScope: a.ClusterScope}}, args)
	if err != nil {
		if ref, ok := err.(*analysisrun.ReferenceError); ok {
			x.finish(ctx, v1alpha1.AnalysisPhaseError, fmt.Sprintf("analysis %s: %s", a.Name, ref.Msg))
			return nil, nil
		}
		return nil, err
	}
	spec.DryRun = append(spec.DryRun, x.exp.Spec.DryRun...)
	spec.MeasurementRetention = append(spec.MeasurementRetention, x.exp.Spec.MeasurementRetention...)
	r = &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       x.exp.Namespace,
			Labels:          map[string]string{v1alpha1.ExperimentNameLabelKey: x.exp.Name},
			Annotations:     map[string]string{},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(x.exp, v1alpha1.SchemeGroupVersion.WithKind("Experiment"))},
		},
		Spec: *spec,
	}
	if id := x.exp.Labels[v1alpha1.InstanceIDLabelKey]; id != "" {
		r.Labels[v1alpha1.InstanceIDLabelKey] = id
	}
	maps.Copy(r.Labels, x.exp.Spec.AnalysisRunMetadata.Labels)
	maps.Copy(r.Annotations, x.exp.Spec.AnalysisRunMetadata.Annotations)
	if err := x.r.Client.Create(ctx, r); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return r, x.r.Client.Get(ctx, client.ObjectKeyFromObject(r), r)
		}
		return nil, fmt.Errorf("creating AnalysisRun %s: %w", name, err)
	}
	x.event(corev1.EventTypeNormal, "AnalysisRunCreated", "Created AnalysisRun %s for analysis %s", name, a.Name)
	return r, nil
}

// judge ends the experiment when an analysis failed, when its required
// analyses are done, or when its duration has passed.
func (x *run) judge(ctx context.Context) {
	required, done := 0, 0
	for _, a := range x.exp.Spec.Analyses {
		st := x.runStatus(a.Name)
		if st == nil {
			return
		}
		switch st.Phase {
		case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
			x.finish(ctx, st.Phase, fmt.Sprintf("analysis %s: AnalysisRun %s is %s: %s", a.Name, st.AnalysisRun, st.Phase, st.Message))
			return
		}
		if a.RequiredForCompletion {
			required++
			if st.Phase.Completed() {
				done++
			}
		}
	}
	if required > 0 && done == required {
		x.finish(ctx, v1alpha1.AnalysisPhaseSuccessful, "every required analysis completed")
		return
	}
	if d := x.exp.Spec.Duration; d != "" {
		dur, err := time.ParseDuration(string(d))
		if err != nil {
			x.finish(ctx, v1alpha1.AnalysisPhaseError, fmt.Sprintf("spec.duration %q: %v", d, err))
			return
		}
		due := x.status.AvailableAt.Add(dur)
		if !x.now.Before(due) {
			x.finish(ctx, v1alpha1.AnalysisPhaseSuccessful, fmt.Sprintf("ran for its duration (%s)", d))
			return
		}
		x.wake(due.Sub(x.now))
	}
}

// verdictOf is phase, or the worst phase of a finished analysis.
func (x *run) verdictOf(_ context.Context, phase v1alpha1.AnalysisPhase) v1alpha1.AnalysisPhase {
	for _, st := range x.status.AnalysisRuns {
		switch st.Phase {
		case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
			return st.Phase
		}
	}
	return phase
}

func (x *run) runStatus(name string) *v1alpha1.ExperimentAnalysisRunStatus {
	for i := range x.status.AnalysisRuns {
		if x.status.AnalysisRuns[i].Name == name {
			return &x.status.AnalysisRuns[i]
		}
	}
	return nil
}

func (x *run) condition() *v1alpha1.ExperimentCondition {
	for i := range x.status.Conditions {
		if x.status.Conditions[i].Type == completed {
			return &x.status.Conditions[i]
		}
	}
	return nil
}

// finish ends the experiment in phase, with msg; windDown does the rest.
func (x *run) finish(ctx context.Context, phase v1alpha1.AnalysisPhase, msg string) {
	x.status.Phase, x.status.Message = phase, msg
	at := metav1.NewTime(x.now)
	x.status.Conditions = append(x.status.Conditions, v1alpha1.ExperimentCondition{
		Type: completed, Status: corev1.ConditionTrue, Reason: string(phase), Message: msg,
		LastUpdateTime: at, LastTransitionTime: at,
	})
	eventType := corev1.EventTypeNormal
	if phase != v1alpha1.AnalysisPhaseSuccessful {
		eventType = corev1.EventTypeWarning
	}
	x.event(eventType, "Experiment"+string(phase), "Experiment %s: %s", phase, msg)
	x.wake(time.Millisecond) // wind down in the next reconcile
}

// windDown terminates the analyses still running and, after the scale-down
// delay, deletes the templates' Services and scales the ReplicaSets to
// zero. Once that is done it writes
// nothing.
func (x *run) windDown(ctx context.Context) error {
	for _, st := range x.status.AnalysisRuns {
		r := &v1alpha1.AnalysisRun{}
		err := x.r.Client.Get(ctx, client.ObjectKey{Namespace: x.exp.Namespace, Name: st.AnalysisRun}, r)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading AnalysisRun %s: %w", st.AnalysisRun, err)
		}
		if r.Status.Phase.Completed() || r.Spec.Terminate {
			continue
		}
		patch := client.MergeFrom(r.DeepCopy())
		r.Spec.Terminate = true
		if err := x.r.Client.Patch(ctx, r, patch); err != nil {
			return fmt.Errorf("terminating AnalysisRun %s: %w", r.Name, err)
		}
	}
	delay := defaultScaleDownDelay
	if d := x.exp.Spec.ScaleDownDelaySeconds; d != nil {
		delay = time.Duration(*d) * time.Second
	}
	ended := x.now
	if c := x.condition(); c != nil {
		ended = c.LastTransitionTime.Time
	}
	if wait := ended.Add(delay).Sub(x.now); wait > 0 {
		x.wake(wait)
		return nil
	}
	if err := x.deleteServices(ctx); err != nil {
		return err
	}
	for _, t := range x.exp.Spec.Templates {
		rs := &appsv1.ReplicaSet{}
		err := x.r.Client.Get(ctx, client.ObjectKey{Namespace: x.exp.Namespace, Name: x.rsName(t.Name)}, rs)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading ReplicaSet %s: %w", x.rsName(t.Name), err)
		}
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != x.exp.UID {
			continue
		}
		if err := x.scale(ctx, rs, 0); err != nil {
			return err
		}
		for i := range x.status.TemplateStatuses {
			if st := &x.status.TemplateStatuses[i]; st.Name == t.Name {
				st.Replicas, st.ReadyReplicas, st.AvailableReplicas, st.UpdatedReplicas = rs.Status.Replicas, rs.Status.ReadyReplicas, rs.Status.AvailableReplicas, rs.Status.Replicas
			}
		}
	}
	return nil
}
