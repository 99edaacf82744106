package rollout

import (
	"context"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/canary"
	"github.com/rampdev/ramp/internal/replicaset"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// canaryRun is one reconcile of a canary rollout: the syncer's view plus
// the canary's Services and routers.
type canaryRun struct {
	*syncer
	c         *v1alpha1.CanaryStrategy
	steps     []v1alpha1.CanaryStep
	canarySvc *corev1.Service
	stableSvc *corev1.Service
	routers   []trafficrouting.Router
	maxWeight int32
	// destinations are the weighted experiment templates' Services while
	// the step's experiment runs: the routers send them their share.
	destinations []v1alpha1.WeightDestination
}

// syncCanary carries a canary release one step: the first deploy goes
// straight to full size; an update walks the steps, moving pods (and, with
// traffic routing, the routers' weight) to the new version, until it is
// promoted, or aborted.
func (s *syncer) syncCanary(ctx context.Context) error {
	c := s.ro.Spec.Strategy.Canary
	for i, step := range c.Steps {
		if _, _, err := canary.PauseDuration(step.Pause); err != nil {
			return invalidSpec(fmt.Sprintf("spec.strategy.canary.steps[%d].pause.duration: %v", i, err))
		}
		switch {
		case step.Plugin != nil:
			return invalidSpec(fmt.Sprintf("spec.strategy.canary.steps[%d].plugin: step plugins are not supported by this controller", i))
		}
	}
	if err := weightedExperiments(c); err != nil {
		return err
	}
	k := &canaryRun{syncer: s, c: c, steps: c.Steps, maxWeight: c.GetMaxTrafficWeight()}
	if c.PingPong != nil && s.status.Canary.StablePingPong == "" {
		s.status.Canary.StablePingPong = v1alpha1.PPPing
	}
	stableField, canaryField := "spec.strategy.canary.stableService", "spec.strategy.canary.canaryService"
	if c.PingPong != nil {
		stableField, canaryField = "spec.strategy.canary.pingPong.pingService", "spec.strategy.canary.pingPong.pongService"
		if s.status.Canary.StablePingPong == v1alpha1.PPPong {
			stableField, canaryField = canaryField, stableField
		}
	}
	stable, canaryName := k.serviceNames()
	var err error
	if canaryName != "" {
		if k.canarySvc, err = s.service(ctx, canaryField, canaryName); err != nil || k.canarySvc == nil {
			return err
		}
	}
	if stable != "" {
		if k.stableSvc, err = s.service(ctx, stableField, stable); err != nil || k.stableSvc == nil {
			return err
		}
	}
	s.served = k.stableSvc
	if err := k.buildRouters(ctx); err != nil {
		return err
	}
	if err := k.weightedRouters(); err != nil {
		return err
	}
	return k.sync(ctx)
}

// serviceNames are the stable and canary Services as the status now has
// them (with pingPong, they swap at each promotion).
func (k *canaryRun) serviceNames() (stable, canary string) {
	ro := *k.ro
	ro.Status = *k.status
	return trafficrouting.Services(&ro)
}

// buildRouters asks the factory for the routers of the rollout as the
// status now has it.
func (k *canaryRun) buildRouters(ctx context.Context) error {
	if k.c.TrafficRouting == nil {
		return nil
	}
	ro := k.ro.DeepCopy()
	ro.Status = *k.status.DeepCopy()
	var err error
	k.routers, err = k.r.routers().Routers(ctx, ro)
	if trafficrouting.IsSpecError(err) {
		return invalidSpec(err.Error())
	}
	if err != nil {
		return fmt.Errorf("traffic routing: %w", err)
	}
	return nil
}

func (k *canaryRun) routed() bool { return k.c.TrafficRouting != nil }

func (k *canaryRun) done() int32 { return int32(len(k.steps)) }

// index is the current step index, within 0..len(steps).
func (k *canaryRun) index() int32 {
	i := ptr.Deref(k.status.CurrentStepIndex, 0)
	return max(0, min(i, k.done()))
}

func (k *canaryRun) setIndex(i int32) { k.status.CurrentStepIndex = ptr.To(i) }

func (k *canaryRun) sync(ctx context.Context) error {
	// A stable ReplicaSet the status lost is the one the stable Service
	// serves.
	if k.stableRS == nil && k.stableSvc != nil {
		if rs := replicaset.FindByHash(k.rss, selectorHash(k.stableSvc)); rs != nil {
			k.stableRS = rs
			k.status.StableRS = replicaset.Hash(rs)
		}
	}
	// So is one a promotion switched it to, when the controller was killed
	// before the status recorded it and the template changed since.
	if rs := k.promotedUnrecorded(); rs != nil {
		k.stableRS = rs
		k.status.StableRS = replicaset.Hash(rs)
	}
	if h := canary.StepsHash(k.steps); k.status.CurrentStepHash != h {
		if k.status.CurrentStepHash != "" && k.stableRS != nil && k.newRS.UID != k.stableRS.UID {
			k.setIndex(0)
			k.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutUpdated, "The canary steps changed: starting them over")
		}
		k.status.CurrentStepHash = h
	}
	switch {
	case k.stableRS == nil:
		return k.firstDeploy(ctx)
	case k.newRS.UID == k.stableRS.UID:
		return k.atRest(ctx)
	}
	return k.update(ctx)
}

// firstDeploy skips the steps: nothing serves yet, so there is nothing to
// protect.
func (k *canaryRun) firstDeploy(ctx context.Context) error {
	replicas := k.ro.Spec.GetReplicas()
	k.setIndex(k.done())
	if err := k.scale(ctx, k.newRS, replicas); err != nil {
		return err
	}
	if err := k.scaleDownOld(ctx, 0, k.newRS); err != nil {
		return err
	}
	if !replicaset.Available(k.newRS, replicas) {
		return nil
	}
	return k.promote(ctx, v1alpha1.CompletionPromoted)
}

// atRest keeps a finished release as it is, and finishes a rollback to the
// stable template.
func (k *canaryRun) atRest(ctx context.Context) error {
	replicas := k.ro.Spec.GetReplicas()
	k.finishUpdate(v1alpha1.CompletionRolledBack)
	k.resetUpdateState()
	k.setIndex(k.done())
	if err := k.clearScaleDownDeadline(ctx, k.stableRS); err != nil {
		return err
	}
	for _, svc := range []*corev1.Service{k.stableSvc, k.canarySvc} {
		if svc != nil {
			if err := k.switchService(ctx, svc, k.hash); err != nil {
				return err
			}
		}
	}
	if k.routed() {
		if err := k.setWeight(ctx, 0); err != nil {
			return err
		}
		if err := k.scale(ctx, k.stableRS, replicas); err != nil {
			return err
		}
		if err := k.scaleDownOld(ctx, seconds(k.c.GetScaleDownDelaySeconds()), k.stableRS); err != nil {
			return err
		}
	} else if err := k.scaleBasic(ctx, 100); err != nil {
		return err
	}
	return k.cleanupHistory(ctx)
}

// update walks the steps of an update in progress.
func (k *canaryRun) update(ctx context.Context) error {
	if err := k.currentExperiment(ctx); err != nil {
		return err
	}
	if k.status.Abort {
		return k.abort(ctx)
	}
	if k.status.AbortedAt != nil {
		k.status.AbortedAt = nil
		k.setIndex(0)
		k.restartUpdate()
		if err := k.deleteRuns(ctx); err != nil {
			return err
		}
		if err := k.deleteExperiments(ctx); err != nil {
			return err
		}
		k.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutRetry, "Retrying the update to %s from the first step", replicaset.Describe(k.newRS))
	}
	if k.promotionStarted() {
		// Killed between the switch and the status that records it: the
		// promotion goes on, never back (docs/controller.md).
		return k.promote(ctx, k.completion())
	}
	if k.status.PromoteFull || k.rollbackWithinWindow() {
		k.setIndex(k.done())
	}
	if k.status.CurrentStepIndex == nil {
		k.setIndex(0)
	}
	idx := k.index()
	if idx >= k.done() || k.steps[idx].Analysis == nil {
		// A step run left behind by a promote past it no longer speaks
		// for the rollout.
		k.status.Canary.CurrentStepAnalysisRunStatus = nil
	}
	// An experiment of a step promoted past, or of an older template, ends.
	keep := ""
	if idx < k.done() && k.steps[idx].Experiment != nil {
		keep = k.experimentName(idx)
	} else {
		k.status.Canary.CurrentExperiment = ""
	}
	if err := k.terminateExperiments(ctx, keep); err != nil {
		return err
	}
	if keep != "" {
		if err := k.experimentDestinations(ctx, keep, k.steps[idx].Experiment); err != nil {
			return err
		}
	}
	weight := canary.Weight(k.steps, idx, k.maxWeight)
	k.stepMessage = k.describeStep(idx)

	settled, err := k.reconcileSizes(ctx, idx, weight)
	if err != nil {
		return err
	}
	if err := k.background(ctx, idx); err != nil {
		return err
	}
	if k.status.Abort {
		return k.abort(ctx)
	}
	if k.ro.Spec.Paused || !settled {
		return nil
	}
	if idx >= k.done() {
		return k.promote(ctx, k.completion())
	}
	advance, err := k.runStep(ctx, idx, k.steps[idx])
	if err != nil || !advance {
		if k.status.Abort {
			return k.abort(ctx)
		}
		return err
	}
	k.setIndex(idx + 1)
	k.status.ControllerPause = false
	k.removePause(v1alpha1.PauseReasonCanaryPauseStep)
	k.status.Canary.CurrentStepAnalysisRunStatus = nil
	k.status.Canary.CurrentExperiment = ""
	k.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutStepCompleted, "Rollout step completed (%s): now at step %d/%d", canary.Describe(k.steps[idx]), idx+1, k.done())
	k.stepMessage = k.describeStep(idx + 1)
	// The next step's sizes and weight follow on the next reconcile.
	k.after(time.Millisecond)
	return nil
}

// promotionStarted reports whether a promotion of the new version has
// switched the stable Service to it already. Only promote points the stable
// Service at the new ReplicaSet during an update, before the status that
// records it is written; a controller killed in between finds the switch
// made. (A ping-pong promotion swaps the roles in the status alone.)
func (k *canaryRun) promotionStarted() bool {
	return k.c.PingPong == nil && k.stableSvc != nil && k.stableRS != nil &&
		selectorHash(k.stableSvc) == k.hash && replicaset.Hash(k.stableRS) != k.hash
}

// promotedUnrecorded is the ReplicaSet, neither the recorded stable one nor
// the newest, that the stable Service selects: only a promotion of it can
// have switched the Service there (see promotionStarted), and a newer
// template came before its status. Nil when there is none.
func (k *canaryRun) promotedUnrecorded() *appsv1.ReplicaSet {
	if k.c.PingPong != nil || k.stableSvc == nil || k.stableRS == nil || k.status.Abort {
		return nil
	}
	rs := replicaset.FindByHash(k.rss, selectorHash(k.stableSvc))
	if rs == nil || rs.UID == k.stableRS.UID || rs.UID == k.newRS.UID {
		return nil
	}
	return rs
}

// completion is how a promotion now would end the update.
func (k *canaryRun) completion() string {
	if k.status.PromoteFull {
		return v1alpha1.CompletionFastPromoted
	}
	return v1alpha1.CompletionPromoted
}

// describeStep names the step for the status message: "step 2/8:
// setWeight 40". Steps are numbered as `ramp get rollout` (and Argo's
// plugin) shows them: step i/n is the one at index i, with i steps done.
func (k *canaryRun) describeStep(idx int32) string {
	if idx >= k.done() {
		if k.done() == 0 {
			return "rolling update"
		}
		return fmt.Sprintf("step %d/%d: steps done, scaling the new version up", k.done(), k.done())
	}
	return fmt.Sprintf("step %d/%d: %s", idx, k.done(), canary.Describe(k.steps[idx]))
}

// reconcileSizes sizes the ReplicaSets for the step, points the Services and
// the routers, and reports whether everything the step asks for is in
// place (pods available, weight set and verified).
func (k *canaryRun) reconcileSizes(ctx context.Context, idx, weight int32) (bool, error) {
	if !k.routed() {
		if err := k.serviceSelectors(ctx); err != nil {
			return false, err
		}
		if err := k.scaleBasic(ctx, weight*100/k.maxWeight); err != nil {
			return false, err
		}
		return k.basicSettled(weight * 100 / k.maxWeight), nil
	}
	canaryPods, stablePods := k.routedSizes(idx, weight)
	if err := k.scale(ctx, k.stableRS, stablePods); err != nil {
		return false, err
	}
	if err := k.scale(ctx, k.newRS, canaryPods); err != nil {
		return false, err
	}
	if err := k.serviceSelectors(ctx); err != nil {
		return false, err
	}
	// Other versions (an update replaced before it finished) go once no
	// Service sends them traffic any more; old stable versions keep the
	// scale-down delay they were given.
	keep := []*appsv1.ReplicaSet{k.newRS, k.stableRS}
	if k.canarySvc != nil {
		if rs := replicaset.FindByHash(k.rss, selectorHash(k.canarySvc)); rs != nil {
			keep = append(keep, rs)
		}
	}
	if w := k.status.Canary.Weights; w != nil && w.Canary.Weight > 0 {
		if rs := replicaset.FindByHash(k.rss, w.Canary.PodTemplateHash); rs != nil {
			keep = append(keep, rs)
		}
	}
	if err := k.scaleDownOld(ctx, 0, keep...); err != nil {
		return false, err
	}

	// The weight moves once the side that takes traffic has the pods for it.
	canaryReady := k.canaryHashServed() && k.newRS.Status.AvailableReplicas >= k.threshold(canaryPods)
	current := k.actualWeight()
	stableReady := k.stableRS.Status.AvailableReplicas >= stablePods
	target := current
	if current != weight && ((weight > current && canaryReady) || (weight < current && stableReady)) {
		target = weight
	}
	// Also when only the destinations changed (the canary Service moved to
	// a newer version): the routers learn the new hashes.
	if err := k.setWeight(ctx, target); err != nil {
		return false, err
	}
	verified, err := k.verify(ctx)
	if err != nil {
		return false, err
	}
	return canaryReady && stableReady && k.actualWeight() == weight && verified &&
		replicaset.Replicas(k.newRS) == canaryPods, nil
}

// routedSizes are the canary's and the stable version's pod counts at the
// step. Each side keeps the pods for the larger of the weight asked for and
// the weight the routers have, so traffic never outruns its pods.
func (k *canaryRun) routedSizes(idx, weight int32) (canaryPods, stablePods int32) {
	in := canary.RoutedInput{
		Replicas:             k.ro.Spec.GetReplicas(),
		DesiredWeight:        weight,
		MaxTrafficWeight:     k.maxWeight,
		Scale:                canary.Scale(k.steps, idx),
		DynamicStableScale:   k.c.DynamicStableScale,
		MinPodsPerReplicaSet: k.c.GetMinPodsPerReplicaSet(),
	}
	// The stable version serves what the routers do not send to a canary,
	// whichever ReplicaSet that is; the new canary only what reaches it.
	in.ActualWeight = k.actualWeight()
	_, stablePods = canary.Routed(in)
	if !k.canaryHashServed() {
		in.ActualWeight = 0
	}
	canaryPods, _ = canary.Routed(in)
	return canaryPods, stablePods
}

// actualWeight is the canary weight the routers were last given.
func (k *canaryRun) actualWeight() int32 {
	if w := k.status.Canary.Weights; w != nil {
		return w.Canary.Weight
	}
	return 0
}

// canaryHashServed reports whether the canary destination is the new
// ReplicaSet (the canary Service selects it, or there is none).
func (k *canaryRun) canaryHashServed() bool {
	return k.canarySvc == nil || selectorHash(k.canarySvc) == k.hash
}

// threshold is how many of want pods must be available for a step to go
// on (replicaProgressThreshold).
func (k *canaryRun) threshold(want int32) int32 {
	return canary.Threshold(want, k.c.ReplicaProgressThreshold)
}

// serviceSelectors points the stable Service at the stable ReplicaSet and
// the canary Service at the new one. With traffic routing the canary
// Service switches only once the new pods are available (or while it takes
// no traffic), so no request reaches a ReplicaSet without ready pods.
func (k *canaryRun) serviceSelectors(ctx context.Context) error {
	if k.stableSvc != nil {
		if err := k.switchService(ctx, k.stableSvc, replicaset.Hash(k.stableRS)); err != nil {
			return err
		}
	}
	if k.canarySvc == nil || selectorHash(k.canarySvc) == k.hash {
		return nil
	}
	if k.routed() && k.actualWeight() > 0 && !replicaset.Available(k.newRS, max(1, replicaset.Replicas(k.newRS))) {
		return nil
	}
	return k.switchService(ctx, k.canarySvc, k.hash)
}

// setWeight gives every router the weight, and records it. During an
// update the routers are asked on every reconcile, not only when the status
// says the weight changed: a route re-applied from Git, or a crash between
// a router's write and the status, is set right again; a router whose
// weight is already right writes nothing (the conformance suite checks
// it). At rest, with the weight recorded, the routers are not called.
func (k *canaryRun) setWeight(ctx context.Context, weight int32) error {
	canaryHash, stableHash := k.hash, replicaset.Hash(k.stableRS)
	if k.canarySvc != nil && selectorHash(k.canarySvc) != "" {
		canaryHash = selectorHash(k.canarySvc)
	}
	w := k.status.Canary.Weights
	recorded := w != nil && w.Canary.Weight == weight && w.Canary.PodTemplateHash == canaryHash && w.Stable.PodTemplateHash == stableHash &&
		slices.Equal(w.Additional, k.destinations)
	if recorded && k.hash == stableHash {
		return nil
	}
	for _, r := range k.routers {
		err := r.UpdateHash(ctx, canaryHash, stableHash)
		if d, ok := r.(trafficrouting.DestinationRouter); ok && err == nil {
			err = d.SetWeightAndDestinations(ctx, weight, k.destinations)
		} else if err == nil {
			err = r.SetWeight(ctx, weight)
		}
		if err != nil {
			return k.routerFailed(fmt.Sprintf("spec.strategy.canary.trafficRouting: %s router: setting weight %d: %v", r.Type(), weight, err))
		}
	}
	if recorded {
		return nil // as recorded (its verification included)
	}
	from := k.actualWeight()
	stableName, canaryName := k.serviceNames()
	stableWeight := k.maxWeight - weight
	for _, d := range k.destinations {
		stableWeight -= d.Weight
	}
	k.status.Canary.Weights = &v1alpha1.TrafficWeights{
		Canary:     v1alpha1.WeightDestination{Weight: weight, ServiceName: canaryName, PodTemplateHash: canaryHash},
		Stable:     v1alpha1.WeightDestination{Weight: stableWeight, ServiceName: stableName, PodTemplateHash: stableHash},
		Additional: slices.Clone(k.destinations),
	}
	if from != weight {
		k.event(corev1.EventTypeNormal, v1alpha1.ReasonTrafficWeightUpdated, "Traffic weight updated from %d to %d", from, weight)
	}
	return nil
}

// routerFailed reports a router that cannot do its work (a route that is
// missing or unusable is the user's to fix) on the rollout, retried with
// backoff. It returns nil: the reconcile itself did not fail.
func (k *canaryRun) routerFailed(msg string) error {
	return missingReference(v1alpha1.ReasonInvalidSpec, msg)
}

// scaleBasic sizes the ReplicaSets of a canary without traffic routing one
// step towards the weight, within maxSurge and maxUnavailable.
func (k *canaryRun) scaleBasic(ctx context.Context, weight int32) error {
	replicas := k.ro.Spec.GetReplicas()
	surge, unavailable, err := canary.Limits(replicas, k.c.GetMaxSurge(), k.c.GetMaxUnavailable())
	if err != nil {
		return invalidSpec(fmt.Sprintf("spec.strategy.canary: %v", err))
	}
	in := canary.BasicInput{Replicas: replicas, Weight: weight, MaxSurge: surge, MaxUnavailable: unavailable, New: set(k.newRS)}
	var others []*appsv1.ReplicaSet
	for _, rs := range k.rss {
		switch {
		case rs.UID == k.newRS.UID:
		case k.stableRS != nil && rs.UID == k.stableRS.UID && k.stableRS.UID != k.newRS.UID:
			st := set(rs)
			in.Stable = &st
		default:
			others = append(others, rs)
			in.Others = append(in.Others, set(rs))
		}
	}
	out := canary.Basic(in)
	// Scale down first, so that the surge is never exceeded.
	for i, rs := range others {
		if out.Others[i] < replicaset.Replicas(rs) {
			if err := k.scale(ctx, rs, out.Others[i]); err != nil {
				return err
			}
		}
	}
	if in.Stable != nil && out.Stable < replicaset.Replicas(k.stableRS) {
		if err := k.scale(ctx, k.stableRS, out.Stable); err != nil {
			return err
		}
	}
	if err := k.scale(ctx, k.newRS, out.New); err != nil {
		return err
	}
	if in.Stable != nil && out.Stable > replicaset.Replicas(k.stableRS) {
		return k.scale(ctx, k.stableRS, out.Stable)
	}
	return nil
}

// basicSettled reports whether a canary without traffic routing has the
// split the weight asks for, with its pods available.
func (k *canaryRun) basicSettled(weight int32) bool {
	replicas := k.ro.Spec.GetReplicas()
	surge, _, err := canary.Limits(replicas, k.c.GetMaxSurge(), k.c.GetMaxUnavailable())
	if err != nil {
		return false
	}
	wantNew, wantStable := canary.Approximate(replicas, weight, surge > 0)
	for _, rs := range k.rss {
		if rs.UID != k.newRS.UID && rs.UID != k.stableRS.UID && (replicaset.Replicas(rs) > 0 || rs.Status.Replicas > 0) {
			return false
		}
	}
	return replicaset.Replicas(k.newRS) == wantNew && k.newRS.Status.AvailableReplicas >= k.threshold(wantNew) &&
		replicaset.Replicas(k.stableRS) == wantStable && k.stableRS.Status.AvailableReplicas >= wantStable &&
		k.stableRS.Status.Replicas == wantStable
}

func set(rs *appsv1.ReplicaSet) canary.Set {
	return canary.Set{Replicas: replicaset.Replicas(rs), Available: rs.Status.AvailableReplicas}
}

// runStep carries out the step at idx once the pods and weight for it are
// in place, and reports whether the rollout may go to the next step.
func (k *canaryRun) runStep(ctx context.Context, idx int32, step v1alpha1.CanaryStep) (bool, error) {
	// A step's sizes and weight (setCanaryScale, setWeight) are in place
	// already (reconcileSizes); its routes come next; then what it waits
	// for (pause, analysis). A step may combine them.
	if step.SetHeaderRoute != nil {
		for _, r := range k.routers {
			h, ok := r.(trafficrouting.HeaderRouter)
			if !ok {
				return false, invalidSpec(fmt.Sprintf("spec.strategy.canary.steps[%d].setHeaderRoute: the %s router cannot route by header", idx, r.Type()))
			}
			if err := h.SetHeaderRoute(ctx, step.SetHeaderRoute); err != nil {
				return false, k.routerFailed(fmt.Sprintf("spec.strategy.canary.steps[%d].setHeaderRoute: %s router: %v", idx, r.Type(), err))
			}
		}
	}
	if step.SetMirrorRoute != nil {
		for _, r := range k.routers {
			m, ok := r.(trafficrouting.MirrorRouter)
			if !ok {
				return false, invalidSpec(fmt.Sprintf("spec.strategy.canary.steps[%d].setMirrorRoute: the %s router cannot mirror requests", idx, r.Type()))
			}
			if err := m.SetMirrorRoute(ctx, step.SetMirrorRoute); err != nil {
				return false, k.routerFailed(fmt.Sprintf("spec.strategy.canary.steps[%d].setMirrorRoute: %s router: %v", idx, r.Type(), err))
			}
		}
	}
	switch {
	case step.Pause != nil:
		return k.pause(idx, step.Pause), nil
	case step.Analysis != nil:
		run, err := k.analysis(ctx, v1alpha1.RolloutTypeStepLabel, fmt.Sprintf("step%d", idx), step.Analysis)
		if err != nil || run == nil {
			return false, err
		}
		k.status.Canary.CurrentStepAnalysisRunStatus = runStatus(run)
		return k.verdict(ctx, run, v1alpha1.RolloutTypeStepLabel), nil
	case step.Experiment != nil:
		ex, err := k.experiment(ctx, idx, step.Experiment)
		if err != nil || ex == nil {
			return false, err
		}
		k.status.Canary.CurrentExperiment = ex.Name
		k.stepExperiment = ex
		return k.experimentVerdict(ex), nil
	}
	return true, nil
}

// pause holds the rollout at a pause step: for its duration, or until
// promoted. It reports whether the pause is over.
func (k *canaryRun) pause(idx int32, p *v1alpha1.RolloutPause) bool {
	d, indefinite, _ := canary.PauseDuration(p)
	cond := pauseCondition(k.status, v1alpha1.PauseReasonCanaryPauseStep)
	switch {
	case cond == nil && !k.status.ControllerPause:
		if !indefinite && d == 0 {
			return true
		}
		k.status.PauseConditions = append(k.status.PauseConditions, v1alpha1.PauseCondition{
			Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.NewTime(k.now),
		})
		k.status.ControllerPause = true
		k.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutPaused, "Rollout is paused at step %d/%d (%s)", idx, k.done(), canary.Describe(k.steps[idx]))
		if !indefinite {
			k.after(d)
		}
		k.pauseMessage = k.pauseLeft(idx, d, indefinite, k.now)
		return false
	case cond != nil:
		k.pauseMessage = k.pauseLeft(idx, d, indefinite, cond.StartTime.Time)
		if indefinite {
			return false
		}
		if wait := cond.StartTime.Add(d).Sub(k.now); wait > 0 {
			k.after(wait)
			return false
		}
		k.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutResumed, "Rollout resumed: the pause at step %d/%d is over", idx, k.done())
		return true
	default:
		// Paused by the controller and the pause was cleared: promoted.
		return true
	}
}

// pauseLeft says how long a pause step has left: "CanaryPauseStep: step 2/8,
// pause 60s, 42s left".
func (k *canaryRun) pauseLeft(idx int32, d time.Duration, indefinite bool, since time.Time) string {
	if indefinite {
		return fmt.Sprintf("%s: step %d/%d, paused until promoted", v1alpha1.PauseReasonCanaryPauseStep, idx, k.done())
	}
	left := max(0, since.Add(d).Sub(k.now)).Round(time.Second)
	return fmt.Sprintf("%s: step %d/%d, %s, %s left", v1alpha1.PauseReasonCanaryPauseStep, idx, k.done(), canary.Describe(k.steps[idx]), left)
}

// background runs strategy.canary.analysis from its starting step, and
// acts on its phase: Failed or Error aborts, Inconclusive pauses.
func (k *canaryRun) background(ctx context.Context, idx int32) error {
	a := k.c.Analysis
	if a == nil || idx < ptr.Deref(a.StartingStep, 0) && idx < k.done() {
		return nil
	}
	run, err := k.analysis(ctx, v1alpha1.RolloutTypeBackgroundRunLabel, "background", &a.RolloutAnalysis)
	if err != nil || run == nil {
		return err
	}
	k.status.Canary.CurrentBackgroundAnalysisRunStatus = runStatus(run)
	switch run.Status.Phase {
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
		k.verdict(ctx, run, v1alpha1.RolloutTypeBackgroundRunLabel)
	}
	return nil
}

// promote makes the new ReplicaSet stable: both Services select it, the
// routers send it everything through the stable Service, and the old
// version waits out scaleDownDelaySeconds (traffic routing) or is already
// gone (basic canary).
func (k *canaryRun) promote(ctx context.Context, how string) error {
	if k.c.PingPong != nil && k.stableRS != nil && k.canarySvc != nil {
		if err := k.pingPongSwap(ctx); err != nil {
			return err
		}
	} else {
		for _, svc := range []*corev1.Service{k.stableSvc, k.canarySvc} {
			if svc != nil {
				if err := k.switchService(ctx, svc, k.hash); err != nil {
					return err
				}
			}
		}
	}
	previous := k.stableRS
	k.stableRS = k.newRS
	k.status.StableRS = k.hash
	if k.routed() {
		if err := k.setWeight(ctx, 0); err != nil {
			return err
		}
		for _, r := range k.routers {
			if err := r.RemoveManagedRoutes(ctx); err != nil {
				return fmt.Errorf("%s router: removing managed routes: %w", r.Type(), err)
			}
		}
	}
	if err := k.terminateRuns(ctx); err != nil {
		return err
	}
	k.setIndex(k.done())
	k.finishUpdate(how)
	k.resetUpdateState()
	k.stepMessage = ""
	if previous != nil {
		k.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Rollout completed: %s is stable, replacing %s", replicaset.Describe(k.newRS), replicaset.Describe(previous))
	} else {
		k.event(corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Rollout completed: %s is stable", replicaset.Describe(k.newRS))
	}
	delay := time.Duration(0)
	if k.routed() {
		delay = seconds(k.c.GetScaleDownDelaySeconds())
	}
	return k.scaleDownOld(ctx, delay, k.newRS)
}

// pingPongSwap promotes a ping-pong canary without touching a selector:
// the canary Service (which selects the new pods) becomes the stable one,
// and the routers are rebuilt with the roles swapped. The other Service
// keeps selecting the old pods, at weight 0, until the next update.
func (k *canaryRun) pingPongSwap(ctx context.Context) error {
	if err := k.switchService(ctx, k.canarySvc, k.hash); err != nil {
		return err
	}
	if k.status.Canary.StablePingPong == v1alpha1.PPPong {
		k.status.Canary.StablePingPong = v1alpha1.PPPing
	} else {
		k.status.Canary.StablePingPong = v1alpha1.PPPong
	}
	k.stableSvc, k.canarySvc = k.canarySvc, k.stableSvc
	k.served = k.stableSvc
	k.status.Canary.Weights = nil // the destinations changed roles
	return k.buildRouters(ctx)
}

// abort sends every request back to the stable version, then scales the
// canary down: at once without traffic routing, after
// abortScaleDownDelaySeconds (never, for 0) with it.
func (k *canaryRun) abort(ctx context.Context) error {
	if k.status.AbortedAt == nil {
		t := metav1.NewTime(k.now)
		k.status.AbortedAt = &t
		k.finishUpdate(v1alpha1.CompletionAborted)
		k.event(corev1.EventTypeWarning, v1alpha1.ReasonRolloutAborted, "Rollout aborted at step %d/%d: %s keeps serving, %s is scaled down",
			k.index(), k.done(), replicaset.Describe(k.stableRS), replicaset.Describe(k.newRS))
		for _, r := range k.routers {
			if err := r.RemoveManagedRoutes(ctx); err != nil {
				return fmt.Errorf("%s router: removing managed routes: %w", r.Type(), err)
			}
		}
		if err := k.terminateRuns(ctx); err != nil {
			return err
		}
	}
	k.status.PauseConditions = nil
	k.status.ControllerPause = false
	if k.stableSvc != nil {
		if err := k.switchService(ctx, k.stableSvc, replicaset.Hash(k.stableRS)); err != nil {
			return err
		}
	}
	if !k.routed() {
		return k.scaleBasic(ctx, 0)
	}
	replicas := k.ro.Spec.GetReplicas()
	if err := k.scale(ctx, k.stableRS, replicas); err != nil {
		return err
	}
	if k.actualWeight() > 0 {
		// The stable version takes the traffic back once it has the pods.
		if k.stableRS.Status.AvailableReplicas < replicas {
			return nil
		}
		if err := k.setWeight(ctx, 0); err != nil {
			return err
		}
	}
	if err := k.scaleDownOld(ctx, 0, k.newRS, k.stableRS); err != nil {
		return err
	}
	delay := k.c.GetAbortScaleDownDelaySeconds()
	if delay == 0 {
		return nil
	}
	if wait := k.status.AbortedAt.Add(seconds(delay)).Sub(k.now); wait > 0 {
		k.after(wait)
		return nil
	}
	return k.scale(ctx, k.newRS, 0)
}
