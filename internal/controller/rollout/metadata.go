package rollout

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// appliedMetadataAnnotation records on a ReplicaSet the ephemeral metadata
// last applied to it and its pods, so that a role change can take it off.
const appliedMetadataAnnotation = "ramp.dev/ephemeral-metadata"

// syncEphemeralMetadata gives the pods of each ReplicaSet the labels and
// annotations of the role it holds now (blue/green: activeMetadata for the
// stable one, previewMetadata for the new one; canary: stableMetadata and
// canaryMetadata), in place: on the ReplicaSet's template for pods to
// come, and on its running pods.
func (s *syncer) syncEphemeralMetadata(ctx context.Context) error {
	var stable, fresh *v1alpha1.PodTemplateMetadata
	switch st := s.ro.Spec.Strategy; {
	case st.BlueGreen != nil:
		stable, fresh = st.BlueGreen.ActiveMetadata, st.BlueGreen.PreviewMetadata
	case st.Canary != nil:
		stable, fresh = st.Canary.StableMetadata, st.Canary.CanaryMetadata
	}
	for _, rs := range s.rss {
		var md *v1alpha1.PodTemplateMetadata
		switch {
		case s.stableRS != nil && rs.UID == s.stableRS.UID:
			md = stable
		case s.newRS != nil && rs.UID == s.newRS.UID:
			md = fresh
		}
		if err := s.applyMetadata(ctx, rs, md); err != nil {
			return err
		}
	}
	return nil
}

func (s *syncer) applyMetadata(ctx context.Context, rs *appsv1.ReplicaSet, md *v1alpha1.PodTemplateMetadata) error {
	want := v1alpha1.PodTemplateMetadata{}
	if md != nil {
		want = *md.DeepCopy()
	}
	var had v1alpha1.PodTemplateMetadata
	if v, ok := rs.Annotations[appliedMetadataAnnotation]; ok {
		_ = json.Unmarshal([]byte(v), &had)
	}
	if len(want.Labels)+len(want.Annotations)+len(had.Labels)+len(had.Annotations) == 0 {
		return nil
	}
	if !apiequality.Semantic.DeepEqual(want, had) || !hasMetadata(rs.Spec.Template.Labels, rs.Spec.Template.Annotations, want) {
		patch := ctrl.MergeFrom(rs.DeepCopy())
		rs.Spec.Template.Labels = merge(rs.Spec.Template.Labels, had.Labels, want.Labels)
		rs.Spec.Template.Annotations = merge(rs.Spec.Template.Annotations, had.Annotations, want.Annotations)
		b, _ := json.Marshal(want)
		if rs.Annotations == nil {
			rs.Annotations = map[string]string{}
		}
		rs.Annotations[appliedMetadataAnnotation] = string(b)
		if err := s.r.Client.Patch(ctx, rs, patch); err != nil {
			return fmt.Errorf("updating the metadata of ReplicaSet %s: %w", rs.Name, err)
		}
	}
	var pods corev1.PodList
	if err := s.r.Client.List(ctx, &pods, ctrl.InNamespace(rs.Namespace), ctrl.MatchingFields{hashIndex: replicaset.Hash(rs)}); err != nil {
		return err
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		labels := merge(pod.Labels, had.Labels, want.Labels)
		annotations := merge(pod.Annotations, had.Annotations, want.Annotations)
		if apiequality.Semantic.DeepEqual(labels, pod.Labels) && apiequality.Semantic.DeepEqual(annotations, pod.Annotations) {
			continue
		}
		patch := ctrl.MergeFrom(pod.DeepCopy())
		pod.Labels, pod.Annotations = labels, annotations
		if err := s.r.Client.Patch(ctx, pod, patch); ctrl.IgnoreNotFound(err) != nil {
			return fmt.Errorf("updating the metadata of pod %s: %w", pod.Name, err)
		}
	}
	return nil
}

// merge returns m without the keys of drop (unless want sets them), with
// want's keys set.
func merge(m, drop, want map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if _, gone := drop[k]; gone {
			if _, kept := want[k]; !kept {
				continue
			}
		}
		out[k] = v
	}
	for k, v := range want {
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func hasMetadata(labels, annotations map[string]string, md v1alpha1.PodTemplateMetadata) bool {
	for k, v := range md.Labels {
		if labels[k] != v {
			return false
		}
	}
	for k, v := range md.Annotations {
		if annotations[k] != v {
			return false
		}
	}
	return true
}
