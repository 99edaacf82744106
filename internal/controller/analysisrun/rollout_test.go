package analysisrun_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// The Rollout and AnalysisRun controllers together: real measurements decide
// real releases.

func (e *env) service(name, app string) {
	e.t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if err := cl.Create(e.ctx, svc); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) template(name string, m v1alpha1.Metric) {
	e.t.Helper()
	err := cl.Create(e.ctx, &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:       v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{m}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func rollout(name string, strategy v1alpha1.RolloutStrategy) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/" + name + ":1"}}},
			},
			Strategy: strategy,
		},
	}
}

func (e *env) createRollout(ro *v1alpha1.Rollout) {
	e.t.Helper()
	ro.Namespace = e.ns
	if err := cl.Create(e.ctx, ro); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) rollout(name string) *v1alpha1.Rollout {
	e.t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, ro); err != nil {
		e.t.Fatal(err)
	}
	return ro
}

func (e *env) rolloutPhase(name string, phase v1alpha1.RolloutPhase) *v1alpha1.Rollout {
	e.t.Helper()
	var ro *v1alpha1.Rollout
	e.eventually(60*time.Second, name+" "+string(phase), func() (bool, string) {
		ro = e.rollout(name)
		return ro.Status.Phase == phase && ro.Status.ObservedGeneration == fmt.Sprint(ro.Generation), fmt.Sprintf("%s: %s", ro.Status.Phase, ro.Status.Message)
	})
	return ro
}

func (e *env) setImage(name, image string) {
	e.t.Helper()
	ro := e.rollout(name)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = image
	if err := cl.Patch(e.ctx, ro, patch); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) selector(svc string) string {
	e.t.Helper()
	s := &corev1.Service{}
	if err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: svc}, s); err != nil {
		e.t.Fatal(err)
	}
	return s.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]
}

// A blue/green release whose pre-promotion analysis measures a failing KPI
// is aborted; the rollout's message carries the value and the condition.
func TestBlueGreenPrePromotionAnalysisFailsOnARealMeasurement(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `{"successRate": 0.71}`)
	m := webMetric("success-rate", ep.URL)
	m.Provider.Web.JSONPath = "{.successRate}"
	m.SuccessCondition = "result >= 0.95"
	e.template("success-rate", m)
	e.service("web-active", "web")
	e.service("web-preview", "web")
	e.createRollout(rollout("web", v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		ActiveService: "web-active", PreviewService: "web-preview", AbortScaleDownDelaySeconds: ptr.To[int32](0),
		PrePromotionAnalysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "success-rate"}}},
	}}))
	v1 := e.rolloutPhase("web", v1alpha1.RolloutPhaseHealthy).Status.StableRS
	e.setImage("web", "example/web:2")
	ro := e.rolloutPhase("web", v1alpha1.RolloutPhaseDegraded)
	for _, want := range []string{"RolloutAborted", `Metric "success-rate" assessed Failed`, "last value 0.71", "against successCondition result >= 0.95"} {
		if !strings.Contains(ro.Status.Message, want) {
			t.Errorf("message %q lacks %q", ro.Status.Message, want)
		}
	}
	if e.selector("web-active") != v1 {
		t.Errorf("the active Service left the stable version")
	}
}

// A canary whose background analysis starts failing at step 3 is aborted and
// its weight returns to 0.
func TestCanaryBackgroundAnalysisFailingAtStep3(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `{"errors": 0}`)
	m := webMetric("errors", ep.URL)
	m.Provider.Web.JSONPath = "{.errors}"
	m.Interval = "200ms"
	m.FailureCondition = "result > 5"
	m.FailureLimit = ptr.To(intstr.FromInt32(0))
	e.template("errors", m)
	e.service("shop-canary", "shop")
	e.service("shop-stable", "shop")
	e.createRollout(rollout("shop", v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		CanaryService: "shop-canary", StableService: "shop-stable", ScaleDownDelaySeconds: ptr.To[int32](0),
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{}},
		Steps: []v1alpha1.CanaryStep{
			{SetWeight: ptr.To[int32](20)}, {Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intstr.FromInt32(1))}},
			{SetWeight: ptr.To[int32](40)}, {Pause: &v1alpha1.RolloutPause{}},
			{SetWeight: ptr.To[int32](80)}, {Pause: &v1alpha1.RolloutPause{}},
		},
		Analysis: &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "errors"}}}},
	}}))
	e.rolloutPhase("shop", v1alpha1.RolloutPhaseHealthy)
	e.setImage("shop", "example/shop:2")
	router := routers.For(types.NamespacedName{Namespace: e.ns, Name: "shop"})
	e.eventually(30*time.Second, "step 4 (index 3) with weight 40", func() (bool, string) {
		ro := e.rollout("shop")
		return ptr.Deref(ro.Status.CurrentStepIndex, -1) == 3 && router.Weight() == 40, fmt.Sprint(ro.Status.CurrentStepIndex, " ", router.Weight())
	})
	ep.answer(200, `{"errors": 12}`)
	ro := e.rolloutPhase("shop", v1alpha1.RolloutPhaseDegraded)
	if !strings.Contains(ro.Status.Message, `Metric "errors" assessed Failed`) || !strings.Contains(ro.Status.Message, "last value 12") {
		t.Errorf("message %q", ro.Status.Message)
	}
	e.eventually(20*time.Second, "weight back to 0", func() (bool, string) { return router.Weight() == 0, fmt.Sprint(router.Weight()) })
}

// A canary's analysis step from a ClusterAnalysisTemplate (clusterScope):
// the run is made from the cluster-wide template and decides the release.
func TestCanaryAnalysisFromAClusterAnalysisTemplate(t *testing.T) {
	e := newEnv(t)
	ep := newEndpoint(t, `{"ok": 1}`)
	m := webMetric("ok", ep.URL)
	m.Provider.Web.JSONPath = "{.ok}"
	m.SuccessCondition = "result == 1"
	cat := &v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: e.ns + "-shared"},
		Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{m}}}
	if err := cl.Create(e.ctx, cat); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Delete(context.Background(), cat) })
	e.createRollout(rollout("cat", v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
		{SetWeight: ptr.To[int32](50)},
		{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: cat.Name, ClusterScope: true}}}},
	}}}))
	e.rolloutPhase("cat", v1alpha1.RolloutPhaseHealthy)
	e.setImage("cat", "example/cat:2")
	e.eventually(time.Minute, "Healthy at the new image", func() (bool, string) {
		ro := e.rollout("cat")
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
			ro.Status.ObservedGeneration == fmt.Sprint(ro.Generation), fmt.Sprintf("%s: %s", ro.Status.Phase, ro.Status.Message)
	})
	var runs v1alpha1.AnalysisRunList
	if err := cl.List(e.ctx, &runs, inNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	ep.mu.Lock()
	calls := ep.calls
	ep.mu.Unlock()
	if len(runs.Items) != 1 || runs.Items[0].Status.Phase != v1alpha1.AnalysisPhaseSuccessful || calls == 0 {
		t.Errorf("runs %d, endpoint called %d times", len(runs.Items), calls)
	}
}
