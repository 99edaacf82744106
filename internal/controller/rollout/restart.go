package rollout

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/internal/replicaset"
)

// evictionRetry is how soon an eviction refused by a PodDisruptionBudget is
// tried again.
const evictionRetry = 5 * time.Second

// syncRestart carries out spec.restartAt: once it has passed, every pod
// created before it is evicted (the Eviction API honours
// PodDisruptionBudgets), at most maxUnavailable at a time, the stable
// ReplicaSet first. When none is left, status.restartedAt records it.
func (s *syncer) syncRestart(ctx context.Context) error {
	at := s.ro.Spec.RestartAt
	if at == nil || (s.status.RestartedAt != nil && !s.status.RestartedAt.Before(at)) {
		return nil
	}
	if wait := at.Sub(s.now); wait > 0 {
		s.after(wait)
		return nil
	}
	var order []*appsv1.ReplicaSet
	if s.stableRS != nil {
		order = append(order, s.stableRS)
	}
	for _, rs := range s.rss {
		if !contains(order, rs) {
			order = append(order, rs)
		}
	}
	budget := s.maxUnavailable()
	// restarted counts each ReplicaSet's ready pods created after restartAt.
	restarted := map[*appsv1.ReplicaSet]int32{}
	for _, rs := range order {
		if replicaset.Replicas(rs) == 0 {
			continue
		}
		ready, pending, err := s.restartReplicaSet(ctx, rs, at.Time, budget)
		if err != nil || pending {
			return err
		}
		restarted[rs] = ready
	}
	for _, rs := range order {
		if restarted[rs] < replicaset.Replicas(rs) {
			// The last replacements are still coming up.
			s.after(time.Second)
			return nil
		}
	}
	t := *at
	s.status.RestartedAt = &t
	s.event(corev1.EventTypeNormal, "RolloutRestarted", "Every pod created before %s was restarted", at.UTC().Format(time.RFC3339))
	return nil
}

// restartReplicaSet evicts rs's pods created before at, as many at a
// time as budget lets be unavailable. It returns how many of its ready
// pods were created after at, and whether some are still to be replaced
// (then it has asked to be called again: one ReplicaSet at a time).
func (s *syncer) restartReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, at time.Time, budget int32) (ready int32, pending bool, err error) {
	var pods corev1.PodList
	if err := s.r.Client.List(ctx, &pods, ctrl.InNamespace(rs.Namespace), ctrl.MatchingFields{hashIndex: replicaset.Hash(rs)}); err != nil {
		return 0, false, err
	}
	// Counted from the pods: the ReplicaSet's status may not have seen
	// the last eviction yet.
	unavailable := replicaset.Replicas(rs)
	for i := range pods.Items {
		if pods.Items[i].DeletionTimestamp == nil && podReady(&pods.Items[i]) {
			unavailable--
		}
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !pod.CreationTimestamp.Time.Before(at) {
			if pod.DeletionTimestamp == nil && podReady(pod) {
				ready++
			}
			continue
		}
		pending = true
		if pod.DeletionTimestamp != nil || unavailable >= budget {
			// Wait for replacement pods before evicting more.
			continue
		}
		err := s.r.Client.SubResource("eviction").Create(ctx, pod, &policyv1.Eviction{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		})
		switch {
		case apierrors.IsTooManyRequests(err):
			s.event(corev1.EventTypeNormal, "RestartBlocked", "Evicting pod %s is blocked by a PodDisruptionBudget; retrying", pod.Name)
			s.after(evictionRetry)
			return ready, true, nil
		case err != nil && !apierrors.IsNotFound(err):
			return ready, true, fmt.Errorf("evicting pod %s: %w", pod.Name, err)
		}
		unavailable++
		s.event(corev1.EventTypeNormal, "RestartingPod", "Evicted pod %s to restart it", pod.Name)
	}
	if pending {
		s.after(time.Second)
	}
	return ready, pending, nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// restartPending reports whether a restart asked for by spec.restartAt is
// due and not finished: the rollout is Progressing meanwhile.
func (s *syncer) restartPending() bool {
	at := s.ro.Spec.RestartAt
	return at != nil && !at.After(s.now) && (s.status.RestartedAt == nil || s.status.RestartedAt.Before(at))
}

// maxUnavailable is how many pods a restart may take down at once: the
// strategy's maxUnavailable (default 25%) of spec.replicas, at least 1.
func (s *syncer) maxUnavailable() int32 {
	v := intstr.FromString("25%")
	if bg := s.ro.Spec.Strategy.BlueGreen; bg != nil && bg.MaxUnavailable != nil {
		v = *bg.MaxUnavailable
	}
	if c := s.ro.Spec.Strategy.Canary; c != nil {
		v = c.GetMaxUnavailable()
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, int(s.ro.Spec.GetReplicas()), false)
	if err != nil || n < 1 {
		return 1
	}
	return int32(n)
}
