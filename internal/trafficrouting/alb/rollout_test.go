package alb_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting/alb"
	"github.com/rampdev/ramp/internal/trafficrouting/alb/elbv2test"
)

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	clustertest.Eventually(t, 60*time.Second, what, cond)
}

// startController runs ramp-controller (built-in routers, the AnalysisRun
// controller, AWS verification against the local ELBv2 server unless aws
// is nil) as its ServiceAccount until the test ends.
func startController(t *testing.T, aws *elbv2test.Server) {
	t.Helper()
	var opts app.Options
	if aws != nil {
		opts.AWS = app.AWSOptions{VerifyTargetGroup: true, ELB: aws.Client(), VerifyInterval: 200 * time.Millisecond}
	}
	clustertest.StartController(t, shared.Config(), opts)
}

// kpi is an HTTP endpoint the analysis measures; answer changes its body.
type kpi struct {
	mu   sync.Mutex
	body string
	URL  string
}

func newKPI(t *testing.T, body string) *kpi {
	k := &kpi{body: body}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		k.mu.Lock()
		defer k.mu.Unlock()
		fmt.Fprint(w, k.body)
	}))
	t.Cleanup(srv.Close)
	k.URL = srv.URL
	return k
}

func (k *kpi) answer(body string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.body = body
}

func rolloutNow(t *testing.T, ns string) *v1alpha1.Rollout {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "web"}, ro); err != nil {
		t.Fatal(err)
	}
	return ro
}

func setImage(t *testing.T, ns, image string) {
	t.Helper()
	ro := rolloutNow(t, ns)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = image
	if err := admin.Patch(t.Context(), ro, patch); err != nil {
		t.Fatal(err)
	}
}

func promote(t *testing.T, ns string) {
	t.Helper()
	ro := rolloutNow(t, ns)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Status.PauseConditions = nil
	if err := admin.Status().Patch(t.Context(), ro, patch); err != nil {
		t.Fatal(err)
	}
}

// annotationWeight is the canary weight the Ingress's action shows.
func annotationWeight(t *testing.T, ns string) int32 {
	v := get(t, ns, "web").Annotations["alb.ingress.kubernetes.io/actions.web-stable"]
	if v == "" {
		return -1
	}
	w, err := alb.CanaryWeight(v, "web-canary")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func replicas(t *testing.T, ns, hash string) int32 {
	rss := &appsv1.ReplicaSetList{}
	if err := admin.List(t.Context(), rss, client.InNamespace(ns), client.MatchingLabels{v1alpha1.DefaultRolloutUniqueLabelKey: hash}); err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 1 {
		return -1
	}
	return ptr.Deref(rss.Items[0].Spec.Replicas, 1)
}

// events lists the notes of the events whose reason starts with prefix.
func events(t *testing.T, ns, prefix string) []string {
	evs := &eventsv1.EventList{}
	if err := admin.List(t.Context(), evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs.Items {
		if strings.HasPrefix(e.Reason, prefix) {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

func hasEvent(t *testing.T, ns, reason, text string) bool {
	evs := &eventsv1.EventList{}
	if err := admin.List(t.Context(), evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		if e.Reason == reason && strings.Contains(e.Note, text) {
			return true
		}
	}
	return false
}

// An ALB canary with ramp-controller, its AnalysisRun controller and
// --aws-verify-target-group, against the local ELBv2 server playing AWS
// and the test playing the AWS Load Balancer Controller:
//   - the update walks 10, 30, 60, 100; at each weight the Ingress
//     annotation shows it, and the step waits until the load balancer's
//     rule has it too (status.canary.weights.verified);
//   - at promotion the annotation returns to 0 and the old pods stay up
//     until the stable Service's target group (a TargetGroupBinding in IP
//     mode) has registered the new ones;
//   - the next update, aborted by its background analysis, returns the
//     annotation to 100% stable.
func TestALBCanaryEndToEnd(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	aws := elbv2test.Start(t)
	host := "k8s-" + ns + "-web.us-west-2.elb.amazonaws.com"
	lb := aws.AddIngress(ns, "web", host, 80, "web-stable", "web-canary")
	withLoadBalancer(t, ns, "web", host)
	for _, name := range []string{"web-stable", "web-canary"} {
		create(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	}
	stableTG := lb.Group("web-stable").ARN
	create(t, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
		"metadata": map[string]any{"name": "web-stable", "namespace": ns},
		"spec":     map[string]any{"serviceRef": map[string]any{"name": "web-stable", "port": int64(80)}, "targetGroupARN": stableTG, "targetType": "ip"},
	}})
	errorsKPI := newKPI(t, `{"errors": 0}`)
	create(t, &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "errors", Namespace: ns},
		Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{
			Name: "errors", Interval: "200ms", FailureCondition: "result > 5", FailureLimit: ptr.To(intstr.FromInt32(0)),
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: errorsKPI.URL, JSONPath: "{.errors}"}},
		}}},
	})
	ro := rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}, func(c *v1alpha1.CanaryStrategy) {
		c.TrafficRouting.ManagedRoutes = nil
		c.ScaleDownDelaySeconds = ptr.To[int32](0)
		c.Steps = []v1alpha1.CanaryStep{
			{SetWeight: ptr.To[int32](10)}, {Pause: &v1alpha1.RolloutPause{}},
			{SetWeight: ptr.To[int32](30)}, {Pause: &v1alpha1.RolloutPause{}},
			{SetWeight: ptr.To[int32](60)}, {Pause: &v1alpha1.RolloutPause{}},
			{SetWeight: ptr.To[int32](100)}, {Pause: &v1alpha1.RolloutPause{}},
		}
		c.Analysis = &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "errors"}}}}
	})
	ro.Spec.Replicas = ptr.To[int32](2)
	create(t, ro)
	startController(t, aws)
	eventually(t, "Healthy", func() (bool, string) {
		r := rolloutNow(t, ns)
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy, r.Status.Message
	})
	v1 := rolloutNow(t, ns).Status.StableRS

	setImage(t, ns, "example/web:2")
	for i, weight := range []int32{10, 30, 60, 100} {
		step := int32(2 * i)
		eventually(t, fmt.Sprintf("weight %d written and waiting for the load balancer", weight), func() (bool, string) {
			r := rolloutNow(t, ns)
			w := r.Status.Canary.Weights
			got := annotationWeight(t, ns)
			return got == weight && ptr.Deref(r.Status.CurrentStepIndex, -1) == step && w != nil && w.Verified != nil && !*w.Verified,
				fmt.Sprintf("annotation %d, step %v, weights %+v", got, r.Status.CurrentStepIndex, w)
		})
		if err := aws.Apply(lb, get(t, ns, "web"), "alb.ingress.kubernetes.io/actions.web-stable"); err != nil {
			t.Fatal(err)
		}
		eventually(t, fmt.Sprintf("weight %d verified, paused", weight), func() (bool, string) {
			r := rolloutNow(t, ns)
			w := r.Status.Canary.Weights
			return r.Status.Phase == v1alpha1.RolloutPhasePaused && ptr.Deref(r.Status.CurrentStepIndex, -1) == step+1 && w != nil && ptr.Deref(w.Verified, false),
				fmt.Sprintf("%s at step %v, weights %+v", r.Status.Phase, r.Status.CurrentStepIndex, w)
		})
		if i == 0 {
			r := rolloutNow(t, ns)
			if r.Status.ALB == nil || r.Status.ALB.LoadBalancer.ARN != lb.ARN || r.Status.ALB.CanaryTargetGroup.ARN != lb.Group("web-canary").ARN {
				t.Errorf("status.alb %+v", r.Status.ALB)
			}
			if !hasEvent(t, ns, v1alpha1.ReasonTargetGroupUnverified, "does not apply weight 10") || !hasEvent(t, ns, v1alpha1.ReasonTargetGroupVerified, "applies weight 10") {
				t.Error("no TargetGroupUnverified and TargetGroupVerified events for weight 10")
			}
		}
		promote(t, ns)
	}

	// Promoted: the stable Service selects the new pods; the old ones stay
	// until the target group has registered the new ones.
	var v2 string
	eventually(t, "promoted, annotation back to 0, old pods kept", func() (bool, string) {
		r := rolloutNow(t, ns)
		v2 = r.Status.CurrentPodHash
		return r.Status.StableRS == v2 && annotationWeight(t, ns) == 0 && hasEvent(t, ns, v1alpha1.ReasonTargetGroupUnverified, "has not registered"),
			fmt.Sprintf("stable %s, annotation %d, events %q", r.Status.StableRS, annotationWeight(t, ns), events(t, ns, "TargetGroup"))
	})
	if n := replicas(t, ns, v1); n != 2 {
		t.Errorf("the old ReplicaSet has %d replicas before the target group registered the new pods", n)
	}
	pods := &corev1.PodList{}
	if err := admin.List(t.Context(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.DefaultRolloutUniqueLabelKey: v2}); err != nil {
		t.Fatal(err)
	}
	var targets []elbv2test.Target
	for _, p := range pods.Items {
		targets = append(targets, elbv2test.Target{ID: p.Status.PodIP, Port: 80, State: "healthy"})
	}
	aws.SetTargets(stableTG, targets...)
	eventually(t, "old pods scaled down once registered", func() (bool, string) {
		n := replicas(t, ns, v1)
		return n == 0 && hasEvent(t, ns, v1alpha1.ReasonTargetGroupVerified, "registered every pod of Service web-stable"), fmt.Sprint("old replicas ", n, "; ", events(t, ns, "TargetGroup"))
	})

	// The next update: its analysis fails at weight 10; the annotation
	// returns to 100% stable.
	setImage(t, ns, "example/web:3")
	eventually(t, "weight 10 written", func() (bool, string) {
		return annotationWeight(t, ns) == 10, fmt.Sprint(annotationWeight(t, ns))
	})
	if err := aws.Apply(lb, get(t, ns, "web"), "alb.ingress.kubernetes.io/actions.web-stable"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "paused at weight 10", func() (bool, string) {
		r := rolloutNow(t, ns)
		return r.Status.Phase == v1alpha1.RolloutPhasePaused && ptr.Deref(r.Status.CurrentStepIndex, -1) == 1, string(r.Status.Phase)
	})
	errorsKPI.answer(`{"errors": 12}`)
	eventually(t, "aborted by the analysis, annotation 100% stable", func() (bool, string) {
		r := rolloutNow(t, ns)
		return r.Status.Phase == v1alpha1.RolloutPhaseDegraded && strings.Contains(r.Status.Message, `Metric "errors" assessed Failed`) && annotationWeight(t, ns) == 0,
			fmt.Sprintf("%s: %s; annotation %d", r.Status.Phase, r.Status.Message, annotationWeight(t, ns))
	})
	want := `{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"web-canary","servicePort":80,"weight":0},{"serviceName":"web-stable","servicePort":80,"weight":100}]}}`
	if got := get(t, ns, "web").Annotations["alb.ingress.kubernetes.io/actions.web-stable"]; got != want {
		t.Errorf("after the abort the action is\n%s\nwant\n%s", got, want)
	}
	if r := rolloutNow(t, ns); r.Status.StableRS != v2 {
		t.Errorf("stable %s after the abort, want %s", r.Status.StableRS, v2)
	}
}

// A ping-pong canary through an ALB: the two Services keep their
// selectors while traffic moves; at promotion the roles swap
// (status.canary.stablePingPong), and the next update runs the other way.
func TestALBPingPong(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	create(t, ingress(ns, "web", "web-root"))
	for _, name := range []string{"web-ping", "web-pong"} {
		create(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	}
	ro := rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80, RootService: "web-root"}, func(c *v1alpha1.CanaryStrategy) {
		c.StableService, c.CanaryService = "", ""
		c.PingPong = &v1alpha1.PingPongSpec{PingService: "web-ping", PongService: "web-pong"}
		c.TrafficRouting.ManagedRoutes = nil
		c.ScaleDownDelaySeconds = ptr.To[int32](0)
		c.Steps = []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](50)}, {Pause: &v1alpha1.RolloutPause{}}}
	})
	create(t, ro)
	startController(t, nil)
	selector := func(name string) string {
		svc := &corev1.Service{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
			t.Fatal(err)
		}
		return svc.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]
	}
	weightOf := func(svc string) int32 {
		w, err := alb.CanaryWeight(get(t, ns, "web").Annotations["alb.ingress.kubernetes.io/actions.web-root"], svc)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	eventually(t, "Healthy, ping stable", func() (bool, string) {
		r := rolloutNow(t, ns)
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy && r.Status.Canary.StablePingPong == v1alpha1.PPPing, string(r.Status.Phase)
	})
	v1 := rolloutNow(t, ns).Status.StableRS

	for i, to := range []struct {
		image          string
		stable, canary string
		after          v1alpha1.PingPongType
	}{
		{"example/web:2", "web-ping", "web-pong", v1alpha1.PPPong},
		{"example/web:3", "web-pong", "web-ping", v1alpha1.PPPing},
	} {
		old := rolloutNow(t, ns).Status.StableRS
		setImage(t, ns, to.image)
		eventually(t, fmt.Sprintf("update %d paused at 50/50", i+1), func() (bool, string) {
			r := rolloutNow(t, ns)
			return r.Status.Phase == v1alpha1.RolloutPhasePaused && weightOf(to.canary) == 50 && weightOf(to.stable) == 50 && selector(to.canary) == r.Status.CurrentPodHash,
				fmt.Sprintf("%s, %s %d, %s %d", r.Status.Phase, to.canary, weightOf(to.canary), to.stable, weightOf(to.stable))
		})
		if got := selector(to.stable); got != old {
			t.Errorf("update %d: the stable Service %s left the stable pods (%s, want %s)", i+1, to.stable, got, old)
		}
		promote(t, ns)
		eventually(t, fmt.Sprintf("update %d promoted: roles swapped", i+1), func() (bool, string) {
			r := rolloutNow(t, ns)
			return r.Status.Phase == v1alpha1.RolloutPhaseHealthy && r.Status.StableRS == r.Status.CurrentPodHash && r.Status.Canary.StablePingPong == to.after &&
					weightOf(to.canary) == 100 && weightOf(to.stable) == 0,
				fmt.Sprintf("%s, stablePingPong %s, %s %d", r.Status.Phase, r.Status.Canary.StablePingPong, to.canary, weightOf(to.canary))
		})
	}
	if v1 == rolloutNow(t, ns).Status.StableRS {
		t.Error("never promoted")
	}

	// Deleted mid-update: the action goes back to 100% to the stable one
	// (ping, after two swaps) before the Rollout goes.
	setImage(t, ns, "example/web:4")
	eventually(t, "update 3 at 50/50", func() (bool, string) { return weightOf("web-pong") == 50, fmt.Sprint(weightOf("web-pong")) })
	if err := admin.Delete(t.Context(), rolloutNow(t, ns)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted, action 100% ping", func() (bool, string) {
		err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "web"}, &v1alpha1.Rollout{})
		return apierrors.IsNotFound(err) && weightOf("web-ping") == 100, fmt.Sprint(err, " ping ", weightOf("web-ping"))
	})
}

// A weighted experiment step through the ALB router: while the experiment
// runs, the forward action carries a target group for the experiment
// template's Service, with its weight, between the canary and the stable
// version; after the step it has only those two again.
func TestALBWeightedExperiment(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	create(t, ingress(ns, "web", "web-stable"))
	for _, name := range []string{"web-stable", "web-canary"} {
		create(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	}
	ro := rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}, func(c *v1alpha1.CanaryStrategy) {
		c.TrafficRouting.ManagedRoutes = nil
		c.ScaleDownDelaySeconds = ptr.To[int32](0)
		c.Steps = []v1alpha1.CanaryStep{
			{SetWeight: ptr.To[int32](20)},
			{Experiment: &v1alpha1.RolloutExperimentStep{
				Duration: "1h",
				Templates: []v1alpha1.RolloutExperimentTemplate{{
					Name: "canary", SpecRef: v1alpha1.CanarySpecRef, Weight: ptr.To[int32](15),
				}},
				ScaleDownDelaySeconds: ptr.To[int32](0),
			}},
			{Pause: &v1alpha1.RolloutPause{}},
		}
	})
	ro.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}
	create(t, ro)
	startController(t, nil)
	eventually(t, "Healthy", func() (bool, string) {
		r := rolloutNow(t, ns)
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy, r.Status.Message
	})
	setImage(t, ns, "example/web:2")
	var service string
	eventually(t, "the experiment's target group in the forward action", func() (bool, string) {
		r := rolloutNow(t, ns)
		service = r.Status.Canary.CurrentExperiment + "-canary"
		weights, err := alb.Weights(get(t, ns, "web").Annotations["alb.ingress.kubernetes.io/actions.web-stable"])
		return err == nil && r.Status.Canary.CurrentExperiment != "" && weights[service] == 15 && weights["web-canary"] == 20 && weights["web-stable"] == 65,
			fmt.Sprintf("%v %v", weights, err)
	})
	svc := &corev1.Service{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: service}, svc); err != nil {
		t.Fatalf("the experiment template's Service: %v", err)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 {
		t.Errorf("Service ports %+v", svc.Spec.Ports)
	}
	// As `ramp promote` does at a step without a pause: the next step.
	r := rolloutNow(t, ns)
	patch := client.MergeFrom(r.DeepCopy())
	r.Status.CurrentStepIndex = ptr.To[int32](2)
	if err := admin.Status().Patch(t.Context(), r, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the forward action without the experiment", func() (bool, string) {
		r := rolloutNow(t, ns)
		weights, err := alb.Weights(get(t, ns, "web").Annotations["alb.ingress.kubernetes.io/actions.web-stable"])
		return err == nil && r.Status.Phase == v1alpha1.RolloutPhasePaused && len(weights) == 2 && weights["web-canary"] == 20 && weights["web-stable"] == 80,
			fmt.Sprintf("%s: %v %v", r.Status.Phase, weights, err)
	})
	eventually(t, "the template's Service deleted", func() (bool, string) {
		err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: service}, &corev1.Service{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}
