package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/canary"
	"github.com/rampdev/ramp/internal/replicaset"
	"github.com/rampdev/ramp/internal/validation"
)

// Migrator moves running Argo Rollouts to Ramp's API, and back.
type Migrator struct {
	// Client acts with the rights of the user who runs `ramp migrate`.
	Client client.Client
	// Clock tells whether Argo's leader lease is still held.
	Clock clock.PassiveClock
}

// Options say what to move.
type Options struct {
	// Namespace is the namespace to move; "" is every namespace.
	Namespace string
	// Rollout, when set, moves that Rollout only (and the templates it uses).
	Rollout string
	// Force moves a Rollout that is mid-update, as it stands.
	Force bool
}

// Plan is what a migration (or its undo) does, object by object.
type Plan struct {
	// Leader, when set, says that Argo Rollouts' controller runs: nothing
	// may be moved.
	Leader    string
	Templates []*TemplateMove
	Rollouts  []*RolloutMove
}

// TemplateMove is one AnalysisTemplate or ClusterAnalysisTemplate.
type TemplateMove struct {
	Kind, Namespace, Name string
	// Refused says why it is not moved.
	Refused string
	// Exists: Ramp's copy is there already, with the same spec.
	Exists bool
	obj    *unstructured.Unstructured
}

// RolloutMove is one Rollout and the objects it owns or manages.
type RolloutMove struct {
	Namespace, Name string
	// Refused says why it is not moved; nothing of it is touched.
	Refused []string
	// Forced says what --force does to a Rollout that is mid-update.
	Forced string
	// State is the Argo Rollout's state in words (phase, revision, step).
	State       string
	ReplicaSets []string
	Services    []string
	Ingresses   []string

	argo     *unstructured.Unstructured
	ramp     *v1alpha1.Rollout
	status   *v1alpha1.RolloutStatus
	existing *v1alpha1.Rollout // a Ramp Rollout from a run that was cut short
	rss      []*appsv1.ReplicaSet
	ings     []*networkingv1.Ingress
}

// Argo Rollouts' kinds, read as unstructured objects (Ramp does not
// import Argo's Go types).
var (
	argoRollout                 = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"}
	argoAnalysisTemplate        = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "AnalysisTemplate"}
	argoClusterAnalysisTemplate = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "ClusterAnalysisTemplate"}
)

// Plan reads the cluster and says what Migrate would do; it writes nothing.
func (m *Migrator) Plan(ctx context.Context, opts Options) (*Plan, error) {
	p := &Plan{}
	leader, err := m.argoLeader(ctx)
	if err != nil {
		return nil, err
	}
	p.Leader = leader
	argoRollouts, err := m.listArgo(ctx, argoRollout, opts.Namespace)
	if err != nil {
		return nil, err
	}
	var rollouts []*unstructured.Unstructured
	for _, u := range argoRollouts {
		if opts.Rollout == "" || u.GetName() == opts.Rollout {
			rollouts = append(rollouts, u)
		}
	}
	if opts.Rollout != "" && len(rollouts) == 0 {
		return nil, fmt.Errorf("no Argo Rollout %q in namespace %s", opts.Rollout, opts.Namespace)
	}
	if err := m.planTemplates(ctx, p, opts, rollouts); err != nil {
		return nil, err
	}
	for _, u := range rollouts {
		mv, err := m.planRollout(ctx, p, u, opts.Force)
		if err != nil {
			return nil, err
		}
		p.Rollouts = append(p.Rollouts, mv)
	}
	return p, nil
}

// listArgo lists an Argo kind; a cluster without Argo's CRD has none.
func (m *Migrator) listArgo(ctx context.Context, gvk schema.GroupVersionKind, ns string) ([]*unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	var opts []client.ListOption
	if ns != "" && gvk != argoClusterAnalysisTemplate {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := m.Client.List(ctx, list, opts...); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing Argo %ss: %w", gvk.Kind, err)
	}
	out := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	slices.SortFunc(out, func(a, b *unstructured.Unstructured) int {
		return strings.Compare(a.GetNamespace()+"/"+a.GetName(), b.GetNamespace()+"/"+b.GetName())
	})
	return out, nil
}

// planTemplates plans the namespace's AnalysisTemplates (all, or those the
// one Rollout uses) and the ClusterAnalysisTemplates the Rollouts use (all
// of them when every namespace is moved).
func (m *Migrator) planTemplates(ctx context.Context, p *Plan, opts Options, rollouts []*unstructured.Unstructured) error {
	used := map[string]bool{}
	for _, u := range rollouts {
		for _, ref := range templateRefs(u.Object) {
			used[ref] = true
		}
	}
	for _, gvk := range []schema.GroupVersionKind{argoAnalysisTemplate, argoClusterAnalysisTemplate} {
		list, err := m.listArgo(ctx, gvk, opts.Namespace)
		if err != nil {
			return err
		}
		for _, u := range list {
			key := templateKey(gvk.Kind, u.GetNamespace(), u.GetName())
			all := opts.Rollout == "" && (gvk == argoAnalysisTemplate || opts.Namespace == "")
			if !all && !used[key] {
				continue
			}
			mv, err := m.planTemplate(ctx, gvk.Kind, u)
			if err != nil {
				return err
			}
			p.Templates = append(p.Templates, mv)
		}
	}
	return nil
}

func templateKey(kind, ns, name string) string {
	if kind == "ClusterAnalysisTemplate" {
		ns = ""
	}
	return kind + " " + ns + "/" + name
}

// templateRefs are the templates a Rollout's analyses name, as
// templateKey gives them.
func templateRefs(obj map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if name, ok := v["templateName"].(string); ok {
				kind := "AnalysisTemplate"
				if cs, _ := v["clusterScope"].(bool); cs {
					kind = "ClusterAnalysisTemplate"
				}
				ns, _, _ := unstructured.NestedString(obj, "metadata", "namespace")
				out = append(out, templateKey(kind, ns, name))
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(obj["spec"])
	return out
}

func (m *Migrator) planTemplate(ctx context.Context, kind string, u *unstructured.Unstructured) (*TemplateMove, error) {
	mv := &TemplateMove{Kind: kind, Namespace: u.GetNamespace(), Name: u.GetName()}
	obj := cleanCopy(u)
	notes := Convert(obj.Object)
	var typed client.Object = &v1alpha1.AnalysisTemplate{}
	if kind == "ClusterAnalysisTemplate" {
		typed = &v1alpha1.ClusterAnalysisTemplate{}
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, typed, true); err != nil {
		notes = append(notes, fmt.Sprintf("not Ramp's API: %v", err))
	} else {
		var errs []string
		switch t := typed.(type) {
		case *v1alpha1.AnalysisTemplate:
			errs = errorStrings(validation.AnalysisTemplate(t).ToAggregate())
		case *v1alpha1.ClusterAnalysisTemplate:
			errs = errorStrings(validation.ClusterAnalysisTemplate(t).ToAggregate())
		}
		notes = append(notes, errs...)
	}
	if len(notes) > 0 {
		mv.Refused = strings.Join(notes, "; ")
		return mv, nil
	}
	mv.obj = obj
	have := &unstructured.Unstructured{}
	have.SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind(kind))
	err := m.Client.Get(ctx, client.ObjectKey{Namespace: u.GetNamespace(), Name: u.GetName()}, have)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading Ramp's %s %s: %w", kind, u.GetName(), err)
	case jsonEqual(have.Object["spec"], obj.Object["spec"]):
		mv.Exists = true
	default:
		mv.Refused = fmt.Sprintf("Ramp's %s %q exists already, with another spec", kind, u.GetName())
	}
	return mv, nil
}

func errorStrings(err error) []string {
	if err == nil {
		return nil
	}
	return []string{err.Error()}
}

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// cleanCopy is u without what the API server set: the object to create
// under Ramp's API.
func cleanCopy(u *unstructured.Unstructured) *unstructured.Unstructured {
	obj := u.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers"} {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(obj.Object, "metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration")
	delete(obj.Object, "status")
	return obj
}

// planRollout decides whether one Argo Rollout can be moved and reads what
// it owns.
func (m *Migrator) planRollout(ctx context.Context, p *Plan, u *unstructured.Unstructured, force bool) (*RolloutMove, error) {
	mv := &RolloutMove{Namespace: u.GetNamespace(), Name: u.GetName(), argo: u}
	obj := cleanCopy(u)
	mv.Refused = append(mv.Refused, Convert(obj.Object)...)
	obj.SetAnnotations(withKey(obj.GetAnnotations(), v1alpha1.MigratedFromAnnotation, migratedFrom(u)))
	ro := &v1alpha1.Rollout{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, ro, true); err != nil {
		mv.Refused = append(mv.Refused, fmt.Sprintf("not Ramp's API: %v", err))
		return mv, nil
	}
	mv.ramp = ro
	if errs := validation.Rollout(ro); len(errs) > 0 {
		mv.Refused = append(mv.Refused, errs.ToAggregate().Error())
	}
	for _, ref := range templateRefs(u.Object) {
		for _, t := range p.Templates {
			if templateKey(t.Kind, t.Namespace, t.Name) == ref && t.Refused != "" {
				mv.Refused = append(mv.Refused, fmt.Sprintf("uses %s %q, which is not moved", t.Kind, t.Name))
			}
		}
	}
	status, err := argoStatus(u)
	if err != nil {
		mv.Refused = append(mv.Refused, err.Error())
		return mv, nil
	}
	mv.status = status
	mv.State = describeState(ro, status)
	if busy := midUpdate(ro, status); busy != "" {
		if !force {
			mv.Refused = append(mv.Refused, busy+"; wait until it is Healthy, or move it as it stands with --force")
		} else {
			mv.Forced = busy + "; --force: Ramp takes it over at this step (pause and abort included) and continues from there: it sizes the ReplicaSets and sets the weight as its own controller would at this step, and starts this step's analysis again"
		}
	}
	if err := m.readExisting(ctx, mv, u); err != nil {
		return nil, err
	}
	if err := m.readOwned(ctx, mv, u); err != nil {
		return nil, err
	}
	if len(mv.Refused) == 0 && mv.existing == nil {
		// The API server's own rules (schema, CEL), without creating it.
		try := ro.DeepCopy()
		try.Annotations = withKey(try.Annotations, v1alpha1.MigratingAnnotation, "dry-run")
		if err := m.Client.Create(ctx, try, client.DryRunAll); err != nil {
			mv.Refused = append(mv.Refused, fmt.Sprintf("the API server refuses it as Ramp's: %v", err))
		}
	}
	return mv, nil
}

// readExisting finds a Ramp Rollout of the same name: from a migration of
// this Argo Rollout that was cut short (it is resumed), or not (refused).
func (m *Migrator) readExisting(ctx context.Context, mv *RolloutMove, u *unstructured.Unstructured) error {
	have := &v1alpha1.Rollout{}
	err := m.Client.Get(ctx, client.ObjectKey{Namespace: u.GetNamespace(), Name: u.GetName()}, have)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading Ramp's Rollout %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	case have.Annotations[v1alpha1.MigratedFromAnnotation] != migratedFrom(u):
		mv.Refused = append(mv.Refused, fmt.Sprintf("Ramp's Rollout %s/%s exists already and was not migrated from this Argo Rollout", u.GetNamespace(), u.GetName()))
	case have.Annotations[v1alpha1.MigratingAnnotation] == "":
		mv.Refused = append(mv.Refused, "migrated already")
	default:
		mv.existing = have
	}
	return nil
}

// readOwned lists the ReplicaSets and Ingresses the Argo Rollout controls
// (or, when a cut-short run is resumed, Ramp's Rollout controls already)
// and the Services it manages.
func (m *Migrator) readOwned(ctx context.Context, mv *RolloutMove, u *unstructured.Unstructured) error {
	owners := map[types.UID]bool{u.GetUID(): true}
	if mv.existing != nil {
		owners[mv.existing.UID] = true
	}
	var rss appsv1.ReplicaSetList
	if err := m.Client.List(ctx, &rss, client.InNamespace(u.GetNamespace())); err != nil {
		return fmt.Errorf("listing ReplicaSets in %s: %w", u.GetNamespace(), err)
	}
	for i := range rss.Items {
		rs := &rss.Items[i]
		if ref := controllerOf(rs); ref != nil && owners[ref.UID] {
			mv.rss = append(mv.rss, rs)
			mv.ReplicaSets = append(mv.ReplicaSets, describeRS(rs, mv.status))
		}
	}
	replicaset.ByRevision(mv.rss)
	if mv.status != nil && mv.status.CurrentPodHash != "" && replicaset.FindByHash(mv.rss, mv.status.CurrentPodHash) == nil {
		mv.Refused = append(mv.Refused, fmt.Sprintf("no ReplicaSet of the current pod-template hash %s", mv.status.CurrentPodHash))
	}
	var ings networkingv1.IngressList
	if err := m.Client.List(ctx, &ings, client.InNamespace(u.GetNamespace())); err != nil {
		return fmt.Errorf("listing Ingresses in %s: %w", u.GetNamespace(), err)
	}
	albs := albIngresses(mv.ramp)
	for i := range ings.Items {
		ing := &ings.Items[i]
		ref := controllerOf(ing)
		if (ref != nil && owners[ref.UID]) || slices.Contains(albs, ing.Name) {
			mv.ings = append(mv.ings, ing)
			mv.Ingresses = append(mv.Ingresses, ing.Name)
		}
	}
	if mv.ramp != nil {
		mv.Services = services(mv.ramp)
	}
	return nil
}

func albIngresses(ro *v1alpha1.Rollout) []string {
	if ro == nil || ro.Spec.Strategy.Canary == nil || ro.Spec.Strategy.Canary.TrafficRouting == nil || ro.Spec.Strategy.Canary.TrafficRouting.ALB == nil {
		return nil
	}
	alb := ro.Spec.Strategy.Canary.TrafficRouting.ALB
	out := slices.Clone(alb.Ingresses)
	if alb.Ingress != "" {
		out = append(out, alb.Ingress)
	}
	return out
}

// services are the Services a Rollout's strategy names.
func services(ro *v1alpha1.Rollout) []string {
	var out []string
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		out = append(out, bg.ActiveService, bg.PreviewService)
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		out = append(out, c.StableService, c.CanaryService)
		if tr := c.PingPong; tr != nil {
			out = append(out, tr.PingService, tr.PongService)
		}
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

func controllerOf(obj client.Object) *metav1.OwnerReference {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return &ref
		}
	}
	return nil
}

func migratedFrom(u *unstructured.Unstructured) string {
	return ArgoAPIVersion + " Rollout " + string(u.GetUID())
}

func withKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// argoStatus is the Argo Rollout's status as Ramp's, without what names
// Argo's own objects (its AnalysisRuns and Experiments): Ramp starts its
// own where a step needs one.
func argoStatus(u *unstructured.Unstructured) (*v1alpha1.RolloutStatus, error) {
	raw, _, _ := unstructured.NestedMap(u.Object, "status")
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	st := &v1alpha1.RolloutStatus{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("its status cannot be read as Ramp's: %v", err)
	}
	st.ObservedGeneration = "" // Argo's generation, not Ramp's: the controller records its own
	st.Canary.CurrentStepAnalysisRunStatus = nil
	st.Canary.CurrentBackgroundAnalysisRunStatus = nil
	st.Canary.CurrentExperiment = ""
	st.BlueGreen.PrePromotionAnalysisRunStatus = nil
	st.BlueGreen.PostPromotionAnalysisRunStatus = nil
	st.PausedOnRuns = nil
	return st, nil
}

// midUpdate says, in words, why a Rollout is not at rest; "" when it is.
func midUpdate(ro *v1alpha1.Rollout, st *v1alpha1.RolloutStatus) string {
	var why []string
	if st.Phase != v1alpha1.RolloutPhaseHealthy {
		why = append(why, fmt.Sprintf("phase %s", phaseOrNone(st.Phase)))
	}
	if st.CurrentPodHash != st.StableRS {
		why = append(why, fmt.Sprintf("updating from %s to %s", orNone(st.StableRS), orNone(st.CurrentPodHash)))
	}
	if ro.Spec.Strategy.BlueGreen != nil && st.BlueGreen.ActiveSelector != st.StableRS {
		why = append(why, fmt.Sprintf("the active Service selects %s, not the stable %s", orNone(st.BlueGreen.ActiveSelector), orNone(st.StableRS)))
	}
	if st.Abort {
		why = append(why, "aborted")
	}
	if len(why) == 0 {
		return ""
	}
	return "mid-update (" + strings.Join(why, ", ") + ")"
}

func describeState(ro *v1alpha1.Rollout, st *v1alpha1.RolloutStatus) string {
	s := fmt.Sprintf("%s, stable %s", phaseOrNone(st.Phase), orNone(st.StableRS))
	if st.CurrentPodHash != st.StableRS {
		s += ", updating to " + orNone(st.CurrentPodHash)
	}
	if c := ro.Spec.Strategy.Canary; c != nil && len(c.Steps) > 0 && st.CurrentStepIndex != nil {
		i := *st.CurrentStepIndex
		if int(i) < len(c.Steps) {
			s += fmt.Sprintf(", step %d/%d: %s", i, len(c.Steps), canary.Describe(c.Steps[i]))
		} else {
			s += fmt.Sprintf(", step %d/%d: steps done", len(c.Steps), len(c.Steps))
		}
	}
	return s
}

func describeRS(rs *appsv1.ReplicaSet, st *v1alpha1.RolloutStatus) string {
	var role []string
	h := replicaset.Hash(rs)
	if st != nil && h == st.StableRS {
		role = append(role, "stable")
	}
	if st != nil && h == st.CurrentPodHash && h != st.StableRS {
		role = append(role, "canary")
	}
	if rev := rs.Annotations[argoRevision]; rev != "" {
		role = append(role, "revision "+rev)
	}
	return fmt.Sprintf("%s (%s, %d pods)", rs.Name, strings.Join(role, ", "), replicaset.Replicas(rs))
}

func phaseOrNone(p v1alpha1.RolloutPhase) string { return orNone(string(p)) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Argo Rollouts' ReplicaSet annotations, and Ramp's for the same thing.
const argoRevision = "rollout.argoproj.io/revision"
