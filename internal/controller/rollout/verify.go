package rollout

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/alb"
)

// defaultVerifyRetry is how soon an unverified weight or target group is
// checked again. The verifiers themselves answer from memory within that
// time, so reconciles for other reasons do not call the cloud either.
const defaultVerifyRetry = 10 * time.Second

func (r *Reconciler) verifyRetry() time.Duration {
	if r.VerifyRetry > 0 {
		return r.VerifyRetry
	}
	return defaultVerifyRetry
}

// verify asks the routers that can whether the weight is applied; until it
// is, the step waits, asking again every few seconds. The answer is kept
// in status.canary.weights.verified: once true, nothing is asked again
// until the weight changes.
func (k *canaryRun) verify(ctx context.Context) (bool, error) {
	w := k.status.Canary.Weights
	if w == nil || (w.Verified != nil && *w.Verified) {
		return true, nil
	}
	checked, ok := false, true
	for _, r := range k.routers {
		v, can := r.(trafficrouting.WeightVerifier)
		if !can {
			continue
		}
		checked = true
		applied, err := v.VerifyWeight(ctx, w.Canary.Weight)
		var notFound *alb.LoadBalancerNotFoundError
		switch {
		case errors.As(err, &notFound):
			k.event(corev1.EventTypeWarning, v1alpha1.ReasonLoadBalancerNotFound, "%s router: %v", r.Type(), err)
		case err != nil:
			k.event(corev1.EventTypeWarning, v1alpha1.ReasonWeightVerifyError, "%s router: verifying weight %d: %v", r.Type(), w.Canary.Weight, err)
		}
		if lb, can := r.(trafficrouting.LoadBalancerStatus); can && err == nil {
			k.loadBalancerStatus(lb.LoadBalancers())
		}
		ok = ok && applied && err == nil
	}
	if !checked {
		return true, nil
	}
	switch {
	case ok:
		k.event(corev1.EventTypeNormal, v1alpha1.ReasonTargetGroupVerified, "The load balancer applies weight %d to the canary", w.Canary.Weight)
	case w.Verified == nil:
		k.event(corev1.EventTypeNormal, v1alpha1.ReasonTargetGroupUnverified, "The load balancer does not apply weight %d to the canary yet; waiting", w.Canary.Weight)
	}
	w.Verified = ptr.To(ok)
	if !ok {
		k.after(k.r.verifyRetry())
	}
	return ok, nil
}

// loadBalancerStatus shows what verification found: status.alb for one
// Ingress, status.albs for each when there are several.
func (k *canaryRun) loadBalancerStatus(found []v1alpha1.ALBStatus) {
	if len(found) == 0 {
		return
	}
	if len(found) == 1 {
		k.status.ALB, k.status.ALBs = &found[0], nil
		return
	}
	k.status.ALB, k.status.ALBs = nil, found
}

// targetsRegistered reports whether the load balancer has registered the
// pods the served Service selects (always, without a TargetVerifier). It
// asks at most once per reconcile, and only when an old ReplicaSet is
// about to go: a rollout at rest asks nothing.
func (s *syncer) targetsRegistered(ctx context.Context) bool {
	if s.r.Targets == nil || s.served == nil {
		return true
	}
	if s.targets != nil {
		return *s.targets
	}
	ok, why, err := s.r.Targets.VerifyTargets(ctx, s.served)
	switch {
	case err != nil:
		s.event(corev1.EventTypeWarning, v1alpha1.ReasonTargetGroupVerifyError, "Verifying the targets of Service %s: %v", s.served.Name, err)
		ok = false
	case ok:
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonTargetGroupVerified, "The load balancer has registered every pod of Service %s", s.served.Name)
	default:
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonTargetGroupUnverified, "Service %s: %s; the old version stays up", s.served.Name, why)
	}
	if !ok {
		s.after(s.r.verifyRetry())
	}
	s.targets = &ok
	return ok
}
