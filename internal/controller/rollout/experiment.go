package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysisrun"
	"github.com/rampdev/ramp/internal/canary"
	"github.com/rampdev/ramp/internal/replicaset"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// +kubebuilder:rbac:groups=ramp.dev,resources=experiments,verbs=get;list;watch;create;patch;delete

// experimentName is the Experiment of the step at idx for the current
// template. It is fixed, so a restarted controller finds the experiment it
// created instead of starting another.
func (s *syncer) experimentName(idx int32) string {
	return fmt.Sprintf("%s-%s-%d", s.ro.Name, s.hash, idx)
}

// experiment makes sure the Experiment of the step at idx exists and
// returns it. Nil, with the spec reported unusable, when its analyses'
// arguments do not resolve.
func (k *canaryRun) experiment(ctx context.Context, idx int32, step *v1alpha1.RolloutExperimentStep) (*v1alpha1.Experiment, error) {
	name := k.experimentName(idx)
	ex := &v1alpha1.Experiment{}
	err := k.r.Client.Get(ctx, ctrl.ObjectKey{Namespace: k.ro.Namespace, Name: name}, ex)
	if err == nil && ex.Status.Phase.Completed() && k.r.APIReader != nil {
		// A verdict is acted on only as the API server has it: a retry
		// deletes the experiments of the update, and a cache that has not
		// seen the deletion yet must not abort (or pass) the new attempt.
		err = k.r.APIReader.Get(ctx, ctrl.ObjectKeyFromObject(ex), ex)
	}
	if err == nil && ex.DeletionTimestamp != nil {
		k.after(time.Second) // a retry's deletion in progress
		return nil, nil
	}
	if err == nil {
		return ex, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading Experiment %s: %w", name, err)
	}
	spec, err := k.experimentSpec(step)
	var ref *analysisrun.ReferenceError
	if errors.As(err, &ref) {
		return nil, missingReference(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("spec.strategy.canary.steps[%d].experiment: %s", idx, ref.Msg))
	}
	if err != nil {
		return nil, err
	}
	ex = &v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       k.ro.Namespace,
			Labels:          map[string]string{replicaset.HashLabel: k.hash},
			Annotations:     map[string]string{v1alpha1.RevisionAnnotation: fmt.Sprint(replicaset.Revision(k.newRS))},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(k.ro, v1alpha1.SchemeGroupVersion.WithKind("Rollout"))},
		},
		Spec: *spec,
	}
	if id := k.ro.Labels[v1alpha1.InstanceIDLabelKey]; id != "" {
		ex.Labels[v1alpha1.InstanceIDLabelKey] = id
	}
	if err := k.r.Client.Create(ctx, ex); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Created by a reconcile the cache has not seen yet.
			return ex, k.r.Client.Get(ctx, ctrl.ObjectKeyFromObject(ex), ex)
		}
		return nil, fmt.Errorf("creating Experiment %s: %w", name, err)
	}
	k.event(corev1.EventTypeNormal, "ExperimentCreated", "Created Experiment %s for step %d/%d", name, idx, k.done())
	return ex, nil
}

// experimentSpec is the Experiment an experiment step asks for: each
// template copies the stable or the canary ReplicaSet's pod template (the
// experiment's own labels give its pods another hash), and the analyses'
// valueFrom arguments are resolved against the rollout; plain values keep
// their {{templates...}} variables for the experiment to fill in.
func (k *canaryRun) experimentSpec(step *v1alpha1.RolloutExperimentStep) (*v1alpha1.ExperimentSpec, error) {
	spec := &v1alpha1.ExperimentSpec{
		Duration:                step.Duration,
		ProgressDeadlineSeconds: k.ro.Spec.ProgressDeadlineSeconds,
		DryRun:                  step.DryRun,
		AnalysisRunMetadata:     step.AnalysisRunMetadata,
		ScaleDownDelaySeconds:   step.ScaleDownDelaySeconds,
	}
	for _, t := range step.Templates {
		src := k.newRS
		if t.SpecRef == v1alpha1.StableSpecRef {
			src = k.stableRS
		}
		tpl := src.Spec.Template.DeepCopy()
		delete(tpl.Labels, replicaset.HashLabel)
		if tpl.Labels == nil {
			tpl.Labels = map[string]string{}
		}
		maps.Copy(tpl.Labels, t.Metadata.Labels)
		if len(t.Metadata.Annotations) > 0 {
			if tpl.Annotations == nil {
				tpl.Annotations = map[string]string{}
			}
			maps.Copy(tpl.Annotations, t.Metadata.Annotations)
		}
		selector := t.Selector
		if selector == nil {
			selector = k.ro.Spec.Selector
		}
		service := t.Service.DeepCopy()
		if service == nil && t.Weight != nil {
			service = &v1alpha1.TemplateService{} // weighted traffic reaches it through a Service
		}
		spec.Templates = append(spec.Templates, v1alpha1.TemplateSpec{
			Name:            t.Name,
			Replicas:        ptr.To(ptr.Deref(t.Replicas, 1)),
			MinReadySeconds: k.ro.Spec.MinReadySeconds,
			Selector:        selector.DeepCopy(),
			Template:        *tpl,
			Service:         service,
		})
	}
	stable := replicaset.Hash(k.stableRS)
	for _, a := range step.Analyses {
		args, err := analysisrun.RolloutArgs(k.current(), a.Args, stable, k.hash)
		if err != nil {
			return nil, err
		}
		spec.Analyses = append(spec.Analyses, v1alpha1.ExperimentAnalysisTemplateRef{
			Name: a.Name, TemplateName: a.TemplateName, ClusterScope: a.ClusterScope, Args: args,
			RequiredForCompletion: a.RequiredForCompletion,
		})
	}
	return spec, nil
}

// weightedExperiments refuses weighted experiment templates without
// traffic routing (only a router can send them a share of the traffic),
// and weights that leave the stable version less than nothing.
func weightedExperiments(c *v1alpha1.CanaryStrategy) error {
	for i, step := range c.Steps {
		if step.Experiment == nil {
			continue
		}
		sum := canary.Weight(c.Steps, int32(i), c.GetMaxTrafficWeight())
		for j, t := range step.Experiment.Templates {
			if t.Weight != nil && c.TrafficRouting == nil {
				return invalidSpec(fmt.Sprintf("spec.strategy.canary.steps[%d].experiment.templates[%d].weight: a weighted experiment template needs traffic routing (ALB, Istio or SMI)", i, j))
			}
			sum += ptr.Deref(t.Weight, 0)
		}
		if sum > c.GetMaxTrafficWeight() {
			return invalidSpec(fmt.Sprintf("spec.strategy.canary.steps[%d].experiment.templates: the templates' weights and the canary's weight at the step add up to %d, over the maximum traffic weight %d", i, sum, c.GetMaxTrafficWeight()))
		}
	}
	return nil
}

// experimentDestinations are the Services of the step's weighted
// templates, once its experiment runs (every template available) and until
// it ends: the routers send them their weights.
func (k *canaryRun) experimentDestinations(ctx context.Context, name string, step *v1alpha1.RolloutExperimentStep) error {
	ex := &v1alpha1.Experiment{}
	err := k.r.Client.Get(ctx, ctrl.ObjectKey{Namespace: k.ro.Namespace, Name: name}, ex)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Experiment %s: %w", name, err)
	}
	if ex.Status.Phase != v1alpha1.AnalysisPhaseRunning || ex.Spec.Terminate || ex.DeletionTimestamp != nil {
		return nil
	}
	for _, t := range step.Templates {
		if t.Weight == nil {
			continue
		}
		for _, st := range ex.Status.TemplateStatuses {
			if st.Name == t.Name && st.ServiceName != "" {
				k.destinations = append(k.destinations, v1alpha1.WeightDestination{Weight: *t.Weight, ServiceName: st.ServiceName, PodTemplateHash: st.PodTemplateHash})
			}
		}
	}
	return nil
}

// weightedRouters refuses weighted experiment templates with a router that
// cannot send traffic to more than the canary and the stable version.
func (k *canaryRun) weightedRouters() error {
	for i, step := range k.steps {
		if step.Experiment == nil {
			continue
		}
		for j, t := range step.Experiment.Templates {
			if t.Weight == nil {
				continue
			}
			for _, r := range k.routers {
				if _, ok := r.(trafficrouting.DestinationRouter); !ok {
					return invalidSpec(fmt.Sprintf("spec.strategy.canary.steps[%d].experiment.templates[%d].weight: the %s router cannot send traffic to experiment templates (ALB, Istio and SMI can)", i, j, r.Type()))
				}
			}
		}
	}
	return nil
}

// experimentVerdict acts on an experiment's phase as verdict does on a
// run's: Successful goes on, Failed or Error aborts, Inconclusive pauses
// until promoted.
func (k *canaryRun) experimentVerdict(ex *v1alpha1.Experiment) bool {
	switch ex.Status.Phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		return true
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError:
		if !k.status.Abort {
			k.status.Abort = true
			k.event(corev1.EventTypeWarning, v1alpha1.ReasonExperimentFailed, "Experiment %s is %s: %s", ex.Name, ex.Status.Phase, ex.Status.Message)
		}
		return false
	case v1alpha1.AnalysisPhaseInconclusive:
		return k.pausedOn(v1alpha1.PauseReasonInconclusiveExperiment, ex.Name, "Experiment "+ex.Name)
	default:
		return false
	}
}

// currentExperiment reads the experiment the status names, if any, for the
// abort message.
func (k *canaryRun) currentExperiment(ctx context.Context) error {
	name := k.status.Canary.CurrentExperiment
	if name == "" {
		return nil
	}
	ex := &v1alpha1.Experiment{}
	err := k.r.Client.Get(ctx, ctrl.ObjectKey{Namespace: k.ro.Namespace, Name: name}, ex)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Experiment %s: %w", name, err)
	}
	k.stepExperiment = ex
	return nil
}

// experiments lists the experiments the rollout owns.
func (s *syncer) experiments(ctx context.Context) ([]v1alpha1.Experiment, error) {
	var list v1alpha1.ExperimentList
	if err := s.r.Client.List(ctx, &list, ctrl.InNamespace(s.ro.Namespace), ctrl.MatchingFields{rolloutOwnerIndex: s.ro.Name}); err != nil {
		return nil, fmt.Errorf("listing Experiments: %w", err)
	}
	var out []v1alpha1.Experiment
	for _, ex := range list.Items {
		if ref := metav1.GetControllerOf(&ex); ref != nil && ref.UID == s.ro.UID && ex.DeletionTimestamp == nil {
			out = append(out, ex)
		}
	}
	return out, nil
}

// terminateExperiments asks every unfinished experiment of the rollout but
// keep (the current step's) to end: a step promoted past, an abort, a
// promotion, a newer template.
func (s *syncer) terminateExperiments(ctx context.Context, keep string) error {
	list, err := s.experiments(ctx)
	if err != nil {
		return err
	}
	for i := range list {
		ex := &list[i]
		if ex.Name == keep || ex.Spec.Terminate || ex.Status.Phase.Completed() {
			continue
		}
		patch := ctrl.MergeFrom(ex.DeepCopy())
		ex.Spec.Terminate = true
		if err := s.r.Client.Patch(ctx, ex, patch); ctrl.IgnoreNotFound(err) != nil {
			return fmt.Errorf("terminating Experiment %s: %w", ex.Name, err)
		}
		s.event(corev1.EventTypeNormal, "ExperimentTerminated", "Terminated Experiment %s", ex.Name)
	}
	return nil
}

// deleteExperiments removes the current template's experiments, so that a
// retry runs them afresh.
func (s *syncer) deleteExperiments(ctx context.Context) error {
	list, err := s.experiments(ctx)
	if err != nil {
		return err
	}
	for i := range list {
		if list[i].Labels[replicaset.HashLabel] != s.hash {
			continue
		}
		if err := s.r.Client.Delete(ctx, &list[i], ctrl.PropagationPolicy(metav1.DeletePropagationBackground)); ctrl.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting Experiment %s: %w", list[i].Name, err)
		}
	}
	s.status.Canary.CurrentExperiment = ""
	return nil
}
