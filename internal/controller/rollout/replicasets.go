package rollout

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/replicaset"
)

// snapshot reads the ReplicaSets the rollout owns and makes sure the one for
// the current template exists.
func (s *syncer) snapshot(ctx context.Context) error {
	var list appsv1.ReplicaSetList
	if err := s.r.Client.List(ctx, &list, ctrl.InNamespace(s.ro.Namespace), ctrl.MatchingFields{ownerIndex: s.ro.Name}); err != nil {
		return fmt.Errorf("listing ReplicaSets: %w", err)
	}
	s.rss = nil
	for i := range list.Items {
		rs := &list.Items[i]
		if ref := ownerOf(rs); ref != nil && ref.UID == s.ro.UID && rs.DeletionTimestamp == nil {
			s.rss = append(s.rss, rs)
		}
	}
	replicaset.ByRevision(s.rss)
	s.hash = replicaset.TemplateHash(&s.ro.Spec.Template, s.status.CollisionCount)
	for _, rs := range s.rss {
		// The ReplicaSet made from this template keeps its name whatever
		// the hash function gives today: one an earlier release named, or
		// one `ramp migrate` took over from Argo Rollouts, carries the
		// template's digest. A template copied back from an old ReplicaSet
		// (undo) is that ReplicaSet's, whatever its defaults do to the hash.
		if replicaset.SameTemplate(rs, &s.ro.Spec.Template) {
			s.hash = replicaset.Hash(rs)
			break
		}
	}
	if s.status.CurrentPodHash != s.hash {
		s.startUpdate()
	}
	updated := s.status.CurrentPodHash != "" && s.status.CurrentPodHash != s.hash
	if updated {
		// A new template starts its update over: an abort or a pause of the
		// previous one does not carry over.
		s.resetUpdateState()
		if s.ro.Spec.Strategy.Canary != nil {
			// The new version starts from the first step.
			s.status.CurrentStepIndex = ptr.To[int32](0)
		}
	}
	s.status.CurrentPodHash = s.hash
	s.stableRS = replicaset.FindByHash(s.rss, s.status.StableRS)
	s.newRS = replicaset.FindByHash(s.rss, s.hash)
	if updated {
		// Until the status naming the new template is written, a reconcile
		// that repeats this one says the same: the revision of the
		// ReplicaSet it made, or is about to make.
		revision := replicaset.MaxRevision(s.rss) + 1
		if s.newRS != nil {
			revision = replicaset.Revision(s.newRS)
		}
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutUpdated, "Rollout updated to revision %d", revision)
	}
	if s.newRS != nil && !replicaset.SameTemplate(s.newRS, &s.ro.Spec.Template) {
		return s.collision(fmt.Sprintf("ReplicaSet %s has the hash %s of another template", s.newRS.Name, s.hash))
	}
	if s.newRS == nil {
		return s.createNewRS(ctx)
	}
	return nil
}

// ownerOf is the Rollout that controls rs, if any.
func ownerOf(rs *appsv1.ReplicaSet) *metav1.OwnerReference {
	ref := metav1.GetControllerOf(rs)
	if ref == nil || ref.Kind != "Rollout" || ref.APIVersion != v1alpha1.SchemeGroupVersion.String() {
		return nil
	}
	return ref
}

// maxCollisions bounds the hash collisions a rollout may go through.
const maxCollisions = 5

// collision bumps the collision count so the next reconcile uses another hash.
func (s *syncer) collision(why string) error {
	n := int32(1)
	if s.status.CollisionCount != nil {
		n = *s.status.CollisionCount + 1
	}
	if n > maxCollisions {
		// A real FNV collision is one in billions; many in a row mean
		// something else rewrites the ReplicaSets. Stop rather than create
		// ReplicaSet after ReplicaSet.
		return &stopped{reason: v1alpha1.ReasonReconciliationError, msg: fmt.Sprintf("pod-template hash collided %d times (%s); not creating more ReplicaSets", maxCollisions, why)}
	}
	s.status.CollisionCount = &n
	s.event(corev1.EventTypeWarning, "HashCollision", "%s; trying collision count %d", why, n)
	return fmt.Errorf("pod-template hash collision: %s", why)
}

// createNewRS makes the ReplicaSet of the current template, in memory: the
// strategy sizes it, and flushNewRS creates it at that size, one write
// instead of a create and a scale.
func (s *syncer) createNewRS(context.Context) error {
	rs := replicaset.New(s.ro, s.hash, replicaset.MaxRevision(s.rss)+1)
	if s.stableRS != nil {
		replicaset.AddAntiAffinity(rs, antiAffinityOf(s.ro), replicaset.Hash(s.stableRS))
	}
	s.newRS = rs
	s.rss = append(s.rss, rs)
	s.pendingRS = true
	return nil
}

// flushNewRS creates the new ReplicaSet that createNewRS made, at the size
// the strategy gave it. If it exists already (a reconcile that was cut
// short, or a stale cache) it is adopted when its template matches, and
// sized.
func (s *syncer) flushNewRS(ctx context.Context) error {
	if !s.pendingRS {
		return nil
	}
	s.pendingRS = false
	rs := s.newRS
	err := s.r.Client.Create(ctx, rs)
	if apierrors.IsAlreadyExists(err) {
		existing := &appsv1.ReplicaSet{}
		if err := s.r.Client.Get(ctx, ctrl.ObjectKeyFromObject(rs), existing); err != nil {
			return err
		}
		owner := ownerOf(existing)
		if owner == nil || owner.UID != s.ro.UID || !replicaset.SameTemplate(existing, &s.ro.Spec.Template) {
			return s.collision(fmt.Sprintf("ReplicaSet %s exists and is not this template's", rs.Name))
		}
		for i := range s.rss {
			if s.rss[i] == rs {
				s.rss[i] = existing
			}
		}
		s.newRS = existing
		return s.scale(ctx, existing, replicaset.Replicas(rs))
	}
	if err != nil {
		return fmt.Errorf("creating ReplicaSet %s: %w", rs.Name, err)
	}
	s.event(corev1.EventTypeNormal, v1alpha1.ReasonNewReplicaSetCreated, "Created ReplicaSet %s with %d pods", replicaset.Describe(rs), replicaset.Replicas(rs))
	return nil
}

// pending says whether rs is the new ReplicaSet not created yet.
func (s *syncer) pending(rs *appsv1.ReplicaSet) bool {
	return s.pendingRS && rs == s.newRS
}

// scale sets rs's size, with an event, when it differs.
func (s *syncer) scale(ctx context.Context, rs *appsv1.ReplicaSet, replicas int32) error {
	if replicaset.Replicas(rs) == replicas {
		return nil
	}
	old := replicaset.Replicas(rs)
	patch := ctrl.MergeFrom(rs.DeepCopy())
	rs.Spec.Replicas = ptr.To(replicas)
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[v1alpha1.DesiredReplicasAnnotation] = fmt.Sprint(s.ro.Spec.GetReplicas())
	if s.pending(rs) {
		return nil
	}
	if err := s.r.Client.Patch(ctx, rs, patch); err != nil {
		return fmt.Errorf("scaling ReplicaSet %s to %d: %w", rs.Name, replicas, err)
	}
	s.event(corev1.EventTypeNormal, v1alpha1.ReasonScalingReplicaSet, "Scaled ReplicaSet %s from %d to %d", replicaset.Describe(rs), old, replicas)
	return nil
}

// scaleDownOld scales down every ReplicaSet but keep, each once its
// scale-down deadline has passed; an old ReplicaSet without a deadline gets
// one delay from now. Beyond scaleDownDelayRevisionLimit old ReplicaSets
// waiting, the oldest go at once.
func (s *syncer) scaleDownOld(ctx context.Context, delay time.Duration, keep ...*appsv1.ReplicaSet) error {
	waiting := 0
	for _, rs := range s.rss {
		if !contains(keep, rs) && replicaset.Replicas(rs) > 0 {
			waiting++
		}
	}
	limit := scaleDownDelayRevisionLimit(s.ro)
	for _, rs := range s.rss { // oldest first
		if contains(keep, rs) || replicaset.Replicas(rs) == 0 {
			continue
		}
		now := limit != nil && int32(waiting) > *limit
		if now {
			waiting--
		} else {
			deadline, ok := scaleDownDeadline(rs)
			switch {
			case !ok && delay > 0:
				if err := s.setScaleDownDeadline(ctx, rs, s.now.Add(delay)); err != nil {
					return err
				}
				s.after(delay)
				continue
			case ok && deadline.After(s.now):
				s.after(deadline.Sub(s.now))
				continue
			}
		}
		// The load balancer may still send requests to the old pods until
		// it has registered the new ones.
		if !s.targetsRegistered(ctx) {
			continue
		}
		if err := s.scale(ctx, rs, 0); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []*appsv1.ReplicaSet, rs *appsv1.ReplicaSet) bool {
	for _, k := range list {
		if k != nil && k.UID == rs.UID {
			return true
		}
	}
	return false
}

func scaleDownDeadline(rs *appsv1.ReplicaSet) (time.Time, bool) {
	v, ok := rs.Annotations[v1alpha1.ScaleDownDeadlineAnnotationKey]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

func (s *syncer) setScaleDownDeadline(ctx context.Context, rs *appsv1.ReplicaSet, at time.Time) error {
	patch := ctrl.MergeFrom(rs.DeepCopy())
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[v1alpha1.ScaleDownDeadlineAnnotationKey] = at.UTC().Format(time.RFC3339)
	if s.pending(rs) {
		return nil
	}
	return s.r.Client.Patch(ctx, rs, patch)
}

// clearScaleDownDeadline removes the deadline of a ReplicaSet that serves
// again (a fast rollback).
func (s *syncer) clearScaleDownDeadline(ctx context.Context, rs *appsv1.ReplicaSet) error {
	if _, ok := rs.Annotations[v1alpha1.ScaleDownDeadlineAnnotationKey]; !ok {
		return nil
	}
	patch := ctrl.MergeFrom(rs.DeepCopy())
	delete(rs.Annotations, v1alpha1.ScaleDownDeadlineAnnotationKey)
	if s.pending(rs) {
		return nil
	}
	return s.r.Client.Patch(ctx, rs, patch)
}

// cleanupHistory deletes the oldest scaled-down ReplicaSets beyond
// revisionHistoryLimit.
func (s *syncer) cleanupHistory(ctx context.Context) error {
	var old []*appsv1.ReplicaSet
	for _, rs := range s.rss {
		if rs == s.newRS || rs == s.stableRS || replicaset.Replicas(rs) != 0 || rs.Status.Replicas != 0 {
			continue
		}
		old = append(old, rs)
	}
	extra := len(old) - int(s.ro.Spec.GetRevisionHistoryLimit())
	for i := 0; i < extra; i++ {
		if err := s.r.Client.Delete(ctx, old[i]); ctrl.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting old ReplicaSet %s: %w", old[i].Name, err)
		}
	}
	return nil
}

func antiAffinityOf(ro *v1alpha1.Rollout) *v1alpha1.AntiAffinity {
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		return bg.AntiAffinity
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		return c.AntiAffinity
	}
	return nil
}

func scaleDownDelayRevisionLimit(ro *v1alpha1.Rollout) *int32 {
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		return bg.ScaleDownDelayRevisionLimit
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		return c.ScaleDownDelayRevisionLimit
	}
	return nil
}
