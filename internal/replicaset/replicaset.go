package replicaset

import (
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// HashLabel is the label that carries a ReplicaSet's pod-template hash.
const HashLabel = v1alpha1.DefaultRolloutUniqueLabelKey

// New builds the ReplicaSet for ro's current template, with the given hash
// and revision, at zero replicas. The controller scales it afterwards.
func New(ro *v1alpha1.Rollout, hash string, revision int64) *appsv1.ReplicaSet {
	tmpl := ro.Spec.Template.DeepCopy()
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[HashLabel] = hash
	sel := ro.Spec.Selector.DeepCopy()
	if sel == nil {
		sel = &metav1.LabelSelector{}
	}
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[HashLabel] = hash
	labels := map[string]string{}
	for k, v := range tmpl.Labels {
		labels[k] = v
	}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ro.Name + "-" + hash,
			Namespace: ro.Namespace,
			Labels:    labels,
			Annotations: map[string]string{
				v1alpha1.RevisionAnnotation:        strconv.FormatInt(revision, 10),
				v1alpha1.TemplateDigestAnnotation:  TemplateDigest(&ro.Spec.Template),
				v1alpha1.DesiredReplicasAnnotation: strconv.Itoa(int(ro.Spec.GetReplicas())),
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ro, v1alpha1.SchemeGroupVersion.WithKind("Rollout"))},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To[int32](0),
			MinReadySeconds: ro.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *tmpl,
		},
	}
}

// SameTemplate reports whether rs was made from template. It compares
// digests: rs's own template carries the API server's defaults and cannot be
// compared field by field.
func SameTemplate(rs *appsv1.ReplicaSet, template *corev1.PodTemplateSpec) bool {
	return rs.Annotations[v1alpha1.TemplateDigestAnnotation] == TemplateDigest(template) || Runs(rs, template)
}

// Runs reports whether template is, field for field, the template rs runs
// (defaults included) but for the hash label: what `ramp undo` copies from
// an old ReplicaSet into the Rollout.
func Runs(rs *appsv1.ReplicaSet, template *corev1.PodTemplateSpec) bool {
	// Compared without copying the templates: this runs for every owned
	// ReplicaSet on every reconcile, and usually fails on the spec (the
	// Rollout's template lacks the API server's defaults).
	if !apiequality.Semantic.DeepEqual(rs.Spec.Template.Spec, template.Spec) {
		return false
	}
	have, want := rs.Spec.Template.ObjectMeta, template.ObjectMeta // shallow copies
	haveLabels, wantLabels := have.Labels, want.Labels
	have.Labels, want.Labels = nil, nil
	if !apiequality.Semantic.DeepEqual(have, want) {
		return false
	}
	for k, v := range haveLabels {
		if k != HashLabel && wantLabels[k] != v {
			return false
		}
	}
	for k := range wantLabels {
		if _, ok := haveLabels[k]; !ok || k == HashLabel {
			return false
		}
	}
	return true
}

// Hash returns the pod-template hash label of rs.
func Hash(rs *appsv1.ReplicaSet) string { return rs.Labels[HashLabel] }

// Revision returns the revision annotation of rs, or 0.
func Revision(rs *appsv1.ReplicaSet) int64 {
	n, err := strconv.ParseInt(rs.Annotations[v1alpha1.RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// MaxRevision is the highest revision among rss.
func MaxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, Revision(rs))
	}
	return m
}

// Replicas is rs's desired size.
func Replicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

// Available reports whether rs has want available pods and no more
// pods than that still coming up.
func Available(rs *appsv1.ReplicaSet, want int32) bool {
	return rs != nil && rs.Status.ObservedGeneration >= rs.Generation &&
		Replicas(rs) == want && rs.Status.AvailableReplicas >= want && rs.Status.Replicas == want
}

// ByRevision sorts ReplicaSets oldest revision first.
func ByRevision(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool {
		ri, rj := Revision(rss[i]), Revision(rss[j])
		if ri != rj {
			return ri < rj
		}
		return rss[i].CreationTimestamp.Before(&rss[j].CreationTimestamp)
	})
}

// FindByHash returns the ReplicaSet of rss with the given hash, or nil.
func FindByHash(rss []*appsv1.ReplicaSet, hash string) *appsv1.ReplicaSet {
	if hash == "" {
		return nil
	}
	for _, rs := range rss {
		if Hash(rs) == hash {
			return rs
		}
	}
	return nil
}

// Describe names rs for events and messages.
func Describe(rs *appsv1.ReplicaSet) string {
	return fmt.Sprintf("%s (revision %d)", rs.Name, Revision(rs))
}

// AddAntiAffinity keeps rs's pods off the nodes that run pods of the
// ReplicaSet with hash other, as a requirement or a weighted preference.
func AddAntiAffinity(rs *appsv1.ReplicaSet, a *v1alpha1.AntiAffinity, other string) {
	if a == nil || other == "" || other == Hash(rs) {
		return
	}
	term := corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{HashLabel: other}},
		TopologyKey:   "kubernetes.io/hostname",
	}
	spec := &rs.Spec.Template.Spec
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.PodAntiAffinity == nil {
		spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
	anti := spec.Affinity.PodAntiAffinity
	if a.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		anti.RequiredDuringSchedulingIgnoredDuringExecution = append(anti.RequiredDuringSchedulingIgnoredDuringExecution, term)
	}
	if p := a.PreferredDuringSchedulingIgnoredDuringExecution; p != nil {
		anti.PreferredDuringSchedulingIgnoredDuringExecution = append(anti.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.WeightedPodAffinityTerm{Weight: p.Weight, PodAffinityTerm: term})
	}
}
