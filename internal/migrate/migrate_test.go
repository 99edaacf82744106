package migrate_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/migrate"
	"github.com/rampdev/ramp/internal/trafficrouting/alb"
)

// argoAction is the forward action Argo's controller writes on an ALB
// Ingress (capitalised keys, the port as a string) at rest.
const argoAction = `{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"shop-canary","ServicePort":"80","Weight":0},{"ServiceName":"shop-stable","ServicePort":"80","Weight":100}]}}`

// standUp leaves in ns what Argo Rollouts leaves for a Healthy canary
// through an ALB (two revisions, the old one scaled down) and a Healthy
// blue/green rollout.
func standUp(t *testing.T, c client.Client, ns string) (shop, pay *argoApp) {
	t.Helper()
	shop = &argoApp{t: t, c: c, ns: ns, name: "shop", images: []string{"shop:1", "shop:2"}, replicas: []int32{0, 3},
		spec: map[string]any{"canary": map[string]any{
			"canaryService": "shop-canary", "stableService": "shop-stable",
			"trafficRouting": map[string]any{"alb": map[string]any{"ingress": "shop", "servicePort": int64(80)}},
			"steps":          []any{map[string]any{"setWeight": int64(30)}, map[string]any{"pause": map[string]any{}}},
		}}}
	shop.status = map[string]any{"currentStepIndex": int64(2), "currentStepHash": "68d9fb9f9c"}
	shop.create()
	h := shop.hashes[1]
	shop.status = nil
	weights := map[string]any{"weights": map[string]any{
		"canary": map[string]any{"weight": int64(0), "serviceName": "shop-canary", "podTemplateHash": h},
		"stable": map[string]any{"weight": int64(100), "serviceName": "shop-stable", "podTemplateHash": h},
	}}
	ro := argoObject(t, c, ns, "shop")
	st := ro.Object["status"].(map[string]any)
	st["canary"] = weights
	if err := c.Status().Update(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	shop.service("shop-stable", h)
	shop.service("shop-canary", h)
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns, Annotations: map[string]string{
			"alb.ingress.kubernetes.io/actions.shop-stable": argoAction,
			"rollouts.argoproj.io/managed-alb-annotations":  `{"shop":["alb.ingress.kubernetes.io/actions.shop-stable"]}`,
			"argo-rollouts.argoproj.io/managed-by-rollouts": "shop",
			"alb.ingress.kubernetes.io/scheme":              "internet-facing",
		}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("alb"),
			Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "shop-stable", Port: networkingv1.ServiceBackendPort{Name: alb.UseAnnotation}}},
				}},
			}}}},
		},
	}
	if err := c.Create(t.Context(), ing); err != nil {
		t.Fatal(err)
	}

	pay = &argoApp{t: t, c: c, ns: ns, name: "pay", images: []string{"pay:1"}, replicas: []int32{2},
		spec: map[string]any{"blueGreen": map[string]any{"activeService": "pay-active", "previewService": "pay-preview"}}}
	pay.status = map[string]any{}
	pay.create()
	ro = argoObject(t, c, ns, "pay")
	st = ro.Object["status"].(map[string]any)
	st["blueGreen"] = map[string]any{"activeSelector": pay.hashes[0], "previewSelector": pay.hashes[0]}
	if err := c.Status().Update(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	pay.service("pay-active", pay.hashes[0])
	pay.service("pay-preview", pay.hashes[0])
	shop.waitReady()
	pay.waitReady()
	return shop, pay
}

// TestMigrateRunningArgoRollouts is the cut-over of docs/migration.md:
// Argo's objects at rest, `ramp migrate --dry-run`, `ramp migrate`, Ramp's
// controller started; the same ReplicaSets and pods (UIDs), selectors and
// weights, Healthy; then new versions roll out under Ramp through their
// steps, and --undo refuses to hand back what Ramp has moved on.
func TestMigrateRunningArgoRollouts(t *testing.T) {
	c, admin := clustertest.Start(t, argoCRDs)
	ns := clustertest.Namespace(t, admin)
	shop, pay := standUp(t, admin, ns)
	before := take(t, admin, ns)

	out := mustCLI(t, c, ns, "migrate", "--dry-run")
	wantLines(t, out,
		"Plan (dry run: nothing is changed):",
		"Rollout "+ns+"/shop: move",
		"  state: Healthy, stable "+shop.hashes[1]+", step 2/2: steps done",
		"  ReplicaSet shop-"+shop.hashes[0]+" (revision 1, 0 pods): owner moved; pods untouched",
		"  ReplicaSet shop-"+shop.hashes[1]+" (stable, revision 2, 3 pods): owner moved; pods untouched",
		"  Service shop-stable: selector unchanged",
		"  Ingress shop: weights unchanged",
		"Rollout "+ns+"/pay: move",
	)
	for name := range before.ReplicaSets {
		rs := &appsv1.ReplicaSet{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, rs); err != nil {
			t.Fatal(err)
		}
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.APIVersion != "argoproj.io/v1alpha1" {
			t.Fatalf("--dry-run moved ReplicaSet %s: %+v", name, ref)
		}
	}

	out = mustCLI(t, c, ns, "migrate")
	wantLines(t, out, "Rollout "+ns+"/shop: moved to Ramp", "Rollout "+ns+"/pay: moved to Ramp")
	clustertest.StartController(t, c.Config(), app.Options{})

	for _, name := range []string{"shop", "pay"} {
		ro := rampRollout(t, admin, ns, name, "Healthy and observed by Ramp's controller", func(ro *v1alpha1.Rollout) bool {
			return ro.Status.ObservedGeneration == "1" && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy
		})
		if ro.Annotations[v1alpha1.MigratingAnnotation] != "" {
			t.Errorf("%s still carries %s", name, v1alpha1.MigratingAnnotation)
		}
	}
	after := take(t, admin, ns)
	if !maps.Equal(before.ReplicaSets, after.ReplicaSets) || !maps.Equal(before.Pods, after.Pods) ||
		!maps.Equal(before.Selectors, after.Selectors) || !maps.Equal(before.Actions, after.Actions) {
		t.Fatalf("the move changed what users see:\nbefore %s\nafter %s", before, after)
	}
	for name := range after.ReplicaSets {
		rs := &appsv1.ReplicaSet{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, rs); err != nil {
			t.Fatal(err)
		}
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.APIVersion != v1alpha1.SchemeGroupVersion.String() {
			t.Errorf("ReplicaSet %s is not Ramp's: %+v", name, ref)
		}
	}

	// New versions, under Ramp: the canary through its steps (the ALB
	// weight at the setWeight step, then a promote), blue/green through its
	// preview.
	setImage(t, admin, ns, "shop", "shop:3")
	setImage(t, admin, ns, "pay", "pay:2")
	rampRollout(t, admin, ns, "shop", "paused at step 2 of the new version", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CurrentPodHash != shop.hashes[1] && ptr.Deref(ro.Status.CurrentStepIndex, 0) == 1 && ro.Status.Phase == v1alpha1.RolloutPhasePaused
	})
	ing := &networkingv1.Ingress{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "shop"}, ing); err != nil {
		t.Fatal(err)
	}
	if w, err := alb.CanaryWeight(ing.Annotations["alb.ingress.kubernetes.io/actions.shop-stable"], "shop-canary"); err != nil || w != 30 {
		t.Errorf("the ALB action gives the canary %d (%v), want 30: %s", w, err, ing.Annotations["alb.ingress.kubernetes.io/actions.shop-stable"])
	}
	mustCLI(t, c, ns, "promote", "shop")
	ro := rampRollout(t, admin, ns, "shop", "Healthy on the new version", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.CurrentPodHash != shop.hashes[1] && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy
	})
	rampRollout(t, admin, ns, "pay", "Healthy on the new version, active Service switched", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.CurrentPodHash != pay.hashes[0] &&
			ro.Status.BlueGreen.ActiveSelector == ro.Status.CurrentPodHash && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy
	})

	out, err := rampCLI(t, c, ns, "migrate", "--undo")
	if err == nil {
		t.Fatalf("--undo handed back rollouts Ramp has moved on:\n%s", out)
	}
	wantLines(t, out, "Rollout "+ns+"/shop: refused: Ramp has moved it from "+shop.hashes[1]+" (Argo's last version) to "+ro.Status.CurrentPodHash)
}

func setImage(t *testing.T, c client.Client, ns, name, image string) {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = image
	if err := c.Patch(t.Context(), ro, patch); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateRefusalsForceAndUndo: ramp migrate refuses while Argo's
// controller holds its leader Lease, refuses a Rollout that uses a router
// Ramp does not run and one that is mid-update (saying why); --force moves
// the mid-update one as it stands and Ramp's controller carries its update
// on from the same step; --undo hands a Healthy one back to Argo with its
// pods and selectors as they were.
func TestMigrateRefusalsForceAndUndo(t *testing.T) {
	c, admin := clustertest.Start(t, argoCRDs)
	ns := clustertest.Namespace(t, admin)
	ctx := t.Context()

	// Healthy blue/green, to hand back.
	pay := &argoApp{t: t, c: admin, ns: ns, name: "pay", images: []string{"pay:1"}, replicas: []int32{2},
		spec: map[string]any{"blueGreen": map[string]any{"activeService": "pay-active"}}}
	pay.create()
	ro := argoObject(t, admin, ns, "pay")
	ro.Object["status"].(map[string]any)["blueGreen"] = map[string]any{"activeSelector": pay.hashes[0]}
	if err := admin.Status().Update(ctx, ro); err != nil {
		t.Fatal(err)
	}
	pay.service("pay-active", pay.hashes[0])
	// A basic canary paused at its second step (setWeight 50 done): two
	// revisions running side by side.
	cart := &argoApp{t: t, c: admin, ns: ns, name: "cart", images: []string{"cart:1", "cart:2"}, replicas: []int32{2, 2},
		spec: map[string]any{"canary": map[string]any{"steps": []any{
			map[string]any{"setWeight": int64(50)}, map[string]any{"pause": map[string]any{}},
		}}}}
	cart.create()
	ro = argoObject(t, admin, ns, "cart")
	st := ro.Object["status"].(map[string]any)
	st["stableRS"], st["phase"], st["currentStepIndex"] = cart.hashes[0], "Paused", int64(1)
	st["pauseConditions"] = []any{map[string]any{"reason": "CanaryPauseStep", "startTime": "2026-11-30T10:00:00Z"}}
	st["controllerPause"] = true
	if err := admin.Status().Update(ctx, ro); err != nil {
		t.Fatal(err)
	}
	// A canary through a plugin router, which Ramp does not run.
	mall := &argoApp{t: t, c: admin, ns: ns, name: "mall", images: []string{"mall:1"}, replicas: []int32{1},
		spec: map[string]any{"canary": map[string]any{"canaryService": "mall-canary", "stableService": "mall-stable",
			"trafficRouting": map[string]any{"plugins": map[string]any{"argoproj-labs/openshift": map[string]any{"routes": []any{"mall"}}}},
			"steps":          []any{map[string]any{"setWeight": int64(10)}}}}}
	mall.create()
	// Templates: one Ramp runs, one it does not.
	for name, provider := range map[string]map[string]any{
		"ok": {"prometheus": map[string]any{"address": "http://prometheus:9090", "query": "vector(1)"}},
		"dd": {"plugin": map[string]any{"argoproj-labs/sample-prometheus": map[string]any{"query": "up"}}},
	} {
		tmpl := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec": map[string]any{"metrics": []any{map[string]any{
				"name": "m", "successCondition": "result[0] == 1", "provider": provider,
			}}},
		}}
		if err := admin.Create(ctx, tmpl); err != nil {
			t.Fatal(err)
		}
	}
	pay.waitReady()
	cart.waitReady()
	before := take(t, admin, ns)

	// Argo's controller leads: nothing moves.
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: migrate.ArgoLeaseName, Namespace: ns},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To("argo-rollouts-5d8f7c9b4-x2x7q_1b2c"), LeaseDurationSeconds: ptr.To[int32](15),
			RenewTime: &metav1.MicroTime{Time: time.Now()},
		},
	}
	if err := admin.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	out, err := rampCLI(t, c, ns, "migrate")
	if err == nil || !strings.Contains(out+err.Error(), "Argo Rollouts' controller runs: Lease "+ns+"/"+migrate.ArgoLeaseName+` is held by "argo-rollouts-5d8f7c9b4-x2x7q_1b2c"`) {
		t.Fatalf("migrate while Argo leads: %v\n%s", err, out)
	}
	// Scaled to 0, Argo's controller releases its Lease.
	lease.Spec.HolderIdentity = ptr.To("")
	if err := admin.Update(ctx, lease); err != nil {
		t.Fatal(err)
	}

	out, err = rampCLI(t, c, ns, "migrate")
	if err == nil {
		t.Fatalf("refusals did not fail the command:\n%s", out)
	}
	wantLines(t, out,
		"Rollout "+ns+"/cart: refused: mid-update (phase Paused, updating from "+cart.hashes[0]+" to "+cart.hashes[1]+"); wait until it is Healthy, or move it as it stands with --force",
		"  state: Paused, stable "+cart.hashes[0]+", updating to "+cart.hashes[1]+", step 1/2: pause (until promoted)",
		"Rollout "+ns+"/mall: refused: spec.strategy.canary.trafficRouting.plugins.argoproj-labs/openshift: Ramp has no plugin routers",
		"Rollout "+ns+"/pay: moved to Ramp",
		"AnalysisTemplate "+ns+"/dd: refused: spec.metrics[0].provider.plugin: the plugin provider is not available in Ramp yet",
		"AnalysisTemplate "+ns+"/ok: copy to ramp.dev/v1alpha1",
	)
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ok"}, &v1alpha1.AnalysisTemplate{}); err != nil {
		t.Errorf("AnalysisTemplate ok was not copied: %v", err)
	}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dd"}, &v1alpha1.AnalysisTemplate{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused AnalysisTemplate dd was copied: %v", err)
	}
	if !maps.Equal(before.ReplicaSets, take(t, admin, ns).ReplicaSets) {
		t.Fatal("ReplicaSets changed")
	}
	for _, name := range []string{"cart", "mall"} {
		if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.Rollout{}); !apierrors.IsNotFound(err) {
			t.Errorf("refused rollout %s was created under Ramp's API: %v", name, err)
		}
	}

	// --undo: pay goes back to Argo as it was.
	out = mustCLI(t, c, ns, "migrate", "--undo", "--rollout", "pay")
	wantLines(t, out, "Rollout "+ns+"/pay: hand back", "Rollout "+ns+"/pay: handed back to Argo Rollouts")
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pay"}, &v1alpha1.Rollout{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Ramp's Rollout pay is still there: %v", err)
	}
	rs := &appsv1.ReplicaSet{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pay-" + pay.hashes[0]}, rs); err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != pay.uid || ref.APIVersion != "argoproj.io/v1alpha1" {
		t.Fatalf("pay's ReplicaSet is not Argo's again: %+v", ref)
	}
	svc := &corev1.Service{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pay-active"}, svc); err != nil {
		t.Fatal(err)
	}
	if svc.Annotations[v1alpha1.ManagedByRolloutsKey] != "" || svc.Labels[v1alpha1.ManagedLabelKey] != "" {
		t.Errorf("Ramp's marks are still on pay-active: %v %v", svc.Labels, svc.Annotations)
	}
	if got := take(t, admin, ns); !maps.Equal(before.Pods, got.Pods) || !maps.Equal(before.Selectors, got.Selectors) {
		t.Fatalf("migrate and undo changed pods or selectors:\nbefore %s\nafter %s", before, got)
	}

	// --force: cart moves mid-update, and Ramp goes on from its step.
	out = mustCLI(t, c, ns, "migrate", "--force", "--rollout", "cart")
	wantLines(t, out, "  forced: mid-update (phase Paused", "Rollout "+ns+"/cart: moved to Ramp")
	clustertest.StartController(t, c.Config(), app.Options{})
	rampRollout(t, admin, ns, "cart", "paused at the same step under Ramp", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.ObservedGeneration == "1" && ro.Status.Phase == v1alpha1.RolloutPhasePaused &&
			ptr.Deref(ro.Status.CurrentStepIndex, -1) == 1 && ro.Status.StableRS == cart.hashes[0] && ro.Status.CurrentPodHash == cart.hashes[1]
	})
	if got := take(t, admin, ns); !maps.Equal(before.ReplicaSets, got.ReplicaSets) {
		t.Fatalf("Ramp made or removed ReplicaSets of a forced move:\nbefore %s\nafter %s", before, got)
	}
	mustCLI(t, c, ns, "promote", "cart")
	rampRollout(t, admin, ns, "cart", "Healthy on the version Argo was rolling out", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == cart.hashes[1]
	})
}
