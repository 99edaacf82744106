package validation

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Rollout returns every violation in a Rollout's spec.
func Rollout(ro *v1alpha1.Rollout) field.ErrorList {
	if ro == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "a Rollout")}
	}
	return RolloutSpec(&ro.Spec, field.NewPath("spec"))
}

// RolloutSpec returns every violation in spec, whose path is path.
func RolloutSpec(spec *v1alpha1.RolloutSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nonNegative(spec.Replicas, path.Child("replicas"))...)
	errs = append(errs, nonNegative(spec.RevisionHistoryLimit, path.Child("revisionHistoryLimit"))...)
	if spec.MinReadySeconds < 0 {
		errs = append(errs, field.Invalid(path.Child("minReadySeconds"), spec.MinReadySeconds, "must be greater than or equal to 0"))
	}
	if d := spec.ProgressDeadlineSeconds; d != nil {
		if *d <= 0 {
			errs = append(errs, field.Invalid(path.Child("progressDeadlineSeconds"), *d, "must be greater than 0"))
		} else if *d <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(path.Child("progressDeadlineSeconds"), *d, "must be greater than minReadySeconds"))
		}
	}
	if spec.RollbackWindow != nil && spec.RollbackWindow.Revisions < 0 {
		errs = append(errs, field.Invalid(path.Child("rollbackWindow", "revisions"), spec.RollbackWindow.Revisions, "must be greater than or equal to 0"))
	}
	if a := spec.Analysis; a != nil {
		errs = append(errs, nonNegative(a.SuccessfulRunHistoryLimit, path.Child("analysis", "successfulRunHistoryLimit"))...)
		errs = append(errs, nonNegative(a.UnsuccessfulRunHistoryLimit, path.Child("analysis", "unsuccessfulRunHistoryLimit"))...)
	}
	errs = append(errs, podSource(spec, path)...)
	errs = append(errs, strategy(spec, path.Child("strategy"))...)
	return errs
}

// podSource checks selector, template and workloadRef.
func podSource(spec *v1alpha1.RolloutSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	hasTemplate := len(spec.Template.Spec.Containers) > 0
	if ref := spec.WorkloadRef; ref != nil {
		p := path.Child("workloadRef")
		if hasTemplate {
			errs = append(errs, field.Forbidden(path.Child("template"), "template and workloadRef are mutually exclusive"))
		}
		if ref.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), "the name of a Deployment, ReplicaSet or PodTemplate"))
		}
		kinds := []string{v1alpha1.WorkloadKindDeployment, v1alpha1.WorkloadKindReplicaSet, v1alpha1.WorkloadKindPodTemplate}
		if ref.Kind != "" && !slices.Contains(kinds, ref.Kind) {
			errs = append(errs, field.NotSupported(p.Child("kind"), ref.Kind, kinds))
		}
		wantVersion := "apps/v1"
		if ref.Kind == v1alpha1.WorkloadKindPodTemplate {
			wantVersion = "v1"
		}
		if ref.APIVersion != "" && ref.APIVersion != wantVersion {
			errs = append(errs, field.Invalid(p.Child("apiVersion"), ref.APIVersion, "must be apps/v1 for a Deployment or a ReplicaSet and v1 for a PodTemplate"))
		}
		if ref.Kind == v1alpha1.WorkloadKindPodTemplate && ref.ScaleDown != "" && ref.ScaleDown != v1alpha1.ScaleDownNever {
			errs = append(errs, field.Invalid(p.Child("scaleDown"), ref.ScaleDown, "a PodTemplate runs no pods to scale down; only never"))
		}
		switch ref.ScaleDown {
		case "", v1alpha1.ScaleDownNever, v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively:
		default:
			errs = append(errs, field.NotSupported(p.Child("scaleDown"), ref.ScaleDown,
				[]string{v1alpha1.ScaleDownNever, v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively}))
		}
		if spec.Selector != nil {
			_, e := selectorValid(spec.Selector, path.Child("selector"))
			errs = append(errs, e...)
		}
		return errs
	}
	if spec.Selector == nil {
		errs = append(errs, field.Required(path.Child("selector"), "required unless workloadRef is set"))
	}
	if !hasTemplate {
		errs = append(errs, field.Required(path.Child("template", "spec", "containers"), "required unless workloadRef is set"))
	}
	if spec.Selector != nil {
		sel, selErrs := selectorValid(spec.Selector, path.Child("selector"))
		errs = append(errs, selErrs...)
		if sel != nil && hasTemplate && !sel.Matches(labels.Set(spec.Template.Labels)) {
			errs = append(errs, field.Invalid(path.Child("template", "metadata", "labels"), spec.Template.Labels,
				"must match spec.selector "+sel.String()))
		}
	}
	return errs
}

func selectorValid(s *metav1.LabelSelector, path *field.Path) (labels.Selector, field.ErrorList) {
	if len(s.MatchLabels)+len(s.MatchExpressions) == 0 {
		return nil, field.ErrorList{field.Invalid(path, "{}", "an empty selector would select every pod in the namespace")}
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(path, s.String(), err.Error())}
	}
	return sel, nil
}

func strategy(spec *v1alpha1.RolloutSpec, path *field.Path) field.ErrorList {
	s := spec.Strategy
	switch {
	case s.BlueGreen != nil && s.Canary != nil:
		return field.ErrorList{field.Forbidden(path, "exactly one of blueGreen or canary must be set, not both")}
	case s.BlueGreen != nil:
		return blueGreen(spec, s.BlueGreen, path.Child("blueGreen"))
	case s.Canary != nil:
		return canary(spec, s.Canary, path.Child("canary"))
	default:
		return field.ErrorList{field.Required(path, "exactly one of blueGreen or canary must be set")}
	}
}

func blueGreen(spec *v1alpha1.RolloutSpec, bg *v1alpha1.BlueGreenStrategy, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if bg.ActiveService == "" {
		errs = append(errs, field.Required(path.Child("activeService"), "the Service that receives production traffic"))
	}
	if bg.PreviewService != "" && bg.PreviewService == bg.ActiveService {
		errs = append(errs, field.Invalid(path.Child("previewService"), bg.PreviewService, "must differ from activeService"))
	}
	errs = append(errs, nonNegative(bg.PreviewReplicaCount, path.Child("previewReplicaCount"))...)
	if bg.AutoPromotionSeconds < 0 {
		errs = append(errs, field.Invalid(path.Child("autoPromotionSeconds"), bg.AutoPromotionSeconds, "must be greater than or equal to 0"))
	}
	_, e := intOrPercent(bg.MaxUnavailable, path.Child("maxUnavailable"))
	errs = append(errs, e...)
	errs = append(errs, nonNegative(bg.ScaleDownDelaySeconds, path.Child("scaleDownDelaySeconds"))...)
	errs = append(errs, nonNegative(bg.AbortScaleDownDelaySeconds, path.Child("abortScaleDownDelaySeconds"))...)
	errs = append(errs, scaleDownDelayRevisionLimit(spec, bg.ScaleDownDelayRevisionLimit, path.Child("scaleDownDelayRevisionLimit"))...)
	errs = append(errs, antiAffinity(bg.AntiAffinity, path.Child("antiAffinity"))...)
	errs = append(errs, rolloutAnalysis(bg.PrePromotionAnalysis, path.Child("prePromotionAnalysis"))...)
	errs = append(errs, rolloutAnalysis(bg.PostPromotionAnalysis, path.Child("postPromotionAnalysis"))...)
	return errs
}

func scaleDownDelayRevisionLimit(spec *v1alpha1.RolloutSpec, limit *int32, path *field.Path) field.ErrorList {
	if limit == nil {
		return nil
	}
	if *limit < 0 {
		return field.ErrorList{field.Invalid(path, *limit, "must be greater than or equal to 0")}
	}
	if *limit > spec.GetRevisionHistoryLimit() {
		return field.ErrorList{field.Invalid(path, *limit, fmt.Sprintf("must not exceed revisionHistoryLimit (%d)", spec.GetRevisionHistoryLimit()))}
	}
	return nil
}

func antiAffinity(a *v1alpha1.AntiAffinity, path *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	pref, req := a.PreferredDuringSchedulingIgnoredDuringExecution, a.RequiredDuringSchedulingIgnoredDuringExecution
	if (pref == nil) == (req == nil) {
		return field.ErrorList{field.Invalid(path, "", "exactly one of preferredDuringSchedulingIgnoredDuringExecution or requiredDuringSchedulingIgnoredDuringExecution must be set")}
	}
	if pref != nil && (pref.Weight < 1 || pref.Weight > 100) {
		return field.ErrorList{field.Invalid(path.Child("preferredDuringSchedulingIgnoredDuringExecution", "weight"), pref.Weight, "must be between 1 and 100")}
	}
	return nil
}

// rolloutAnalysis checks an analysis a rollout runs (templates and args).
func rolloutAnalysis(a *v1alpha1.RolloutAnalysis, path *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	if len(a.Templates) == 0 {
		errs = append(errs, field.Required(path.Child("templates"), "at least one template"))
	}
	for i, t := range a.Templates {
		if t.TemplateName == "" {
			errs = append(errs, field.Required(path.Child("templates").Index(i).Child("templateName"), "the name of an AnalysisTemplate or ClusterAnalysisTemplate"))
		}
	}
	errs = append(errs, rolloutArgs(a.Args, path.Child("args"))...)
	errs = append(errs, dryRunAndRetention(a.DryRun, a.MeasurementRetention, nil, path)...)
	return errs
}

func rolloutArgs(args []v1alpha1.AnalysisRunArgument, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := nameSet{}
	for i, a := range args {
		p := path.Index(i)
		errs = append(errs, seen.check(a.Name, p.Child("name"), "an argument name")...)
		vf := a.ValueFrom
		if vf == nil {
			continue
		}
		if a.Value != "" {
			errs = append(errs, field.Forbidden(p, "value and valueFrom are mutually exclusive"))
		}
		if (vf.PodTemplateHashValue == nil) == (vf.FieldRef == nil) {
			errs = append(errs, field.Invalid(p.Child("valueFrom"), "", "exactly one of podTemplateHashValue or fieldRef must be set"))
		}
		if h := vf.PodTemplateHashValue; h != nil && *h != v1alpha1.Stable && *h != v1alpha1.Latest {
			errs = append(errs, field.NotSupported(p.Child("valueFrom", "podTemplateHashValue"), string(*h), []string{string(v1alpha1.Stable), string(v1alpha1.Latest)}))
		}
		if vf.FieldRef != nil {
			errs = append(errs, fieldPath(vf.FieldRef.FieldPath, p.Child("valueFrom", "fieldRef", "fieldPath"))...)
		}
	}
	return errs
}
