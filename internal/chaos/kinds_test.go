package chaos_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster"
)

// kind is one sort of rollout in the chaos fleet.
type kind struct {
	prefix string
	// objects are the rollout and what it needs (Services, routes).
	objects func(name string) []client.Object
	// bad rollouts have every update aborted by their analysis: they end
	// Degraded at their latest image, the first version still serving.
	bad bool
	// cli kinds get `ramp` actions racing the controller.
	cli bool
	// served is the Service whose selector must never go back to an older
	// revision (suffix of the rollout's name).
	served string
	// weights are the canary weights its steps allow a router to show
	// (nil: no router).
	weights []int32
	// analysisStep is the index of its step analysis (-1: none).
	analysisStep int32
}

// routedSteps walk 20 and 60 with short pauses: a router may show 0, 20,
// 60, or 100 (the steps done, before the promotion sends it back to 0).
var routedWeights = []int32{0, 20, 60, 100}

func routedSteps() []v1alpha1.CanaryStep {
	return []v1alpha1.CanaryStep{
		{SetWeight: ptr.To[int32](20)},
		{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intOrString("1s"))}},
		{SetWeight: ptr.To[int32](60)},
		{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intOrString("1s"))}},
	}
}

// kinds are the fleet's rollouts: blue/green (plain, and with a
// pre-promotion analysis), a basic canary, canaries routed by Gateway API
// and by the AWS Load Balancer Controller's annotations, and canaries whose
// step analysis a real Prometheus decides good or bad.
func kinds() []kind {
	return []kind{
		{prefix: "bg", objects: blueGreen, cli: true, served: "-active", analysisStep: -1},
		{prefix: "canary", objects: canary, cli: true, analysisStep: -1},
		{prefix: "gw", objects: gatewayCanary, served: "-stable", weights: routedWeights, analysisStep: -1},
		{prefix: "alb", objects: albCanary, served: "-stable", weights: routedWeights, analysisStep: -1},
		{prefix: "bgpre", objects: blueGreenAnalysed, served: "-active", analysisStep: -1},
		{prefix: "bgpost", objects: blueGreenPostAnalysed, analysisStep: -1},
		{prefix: "good", objects: analysedCanary("good"), served: "-stable", analysisStep: 1},
		{prefix: "job", objects: jobCanary, served: "-stable", analysisStep: 1},
		{prefix: "bad", objects: analysedCanary("bad"), bad: true, served: "-stable", analysisStep: 1},
	}
}

func service(name, app string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{{Port: 80}}}}
}

func blueGreen(name string) []client.Object {
	ro := rollout(name, v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		ActiveService: name + "-active", PreviewService: name + "-preview", ScaleDownDelaySeconds: ptr.To[int32](0),
	}})
	return []client.Object{service(name+"-active", name), service(name+"-preview", name), ro}
}

func blueGreenAnalysed(name string) []client.Object {
	ro := rollout(name, v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		ActiveService: name + "-active", PreviewService: name + "-preview", ScaleDownDelaySeconds: ptr.To[int32](0),
		PrePromotionAnalysis: verdictAnalysis("good"),
	}})
	return []client.Object{service(name+"-active", name), service(name+"-preview", name), ro}
}

// blueGreenPostAnalysed switches the active Service to the new version
// for a post-promotion analysis before the version is stable: a new
// template during that analysis sends the active Service back to the
// stable version by design (as Argo Rollouts does), so no-flip-back is not
// checked on it.
func blueGreenPostAnalysed(name string) []client.Object {
	ro := rollout(name, v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		ActiveService: name + "-active", PreviewService: name + "-preview", ScaleDownDelaySeconds: ptr.To[int32](0),
		PostPromotionAnalysis: verdictAnalysis("good"),
	}})
	return []client.Object{service(name+"-active", name), service(name+"-preview", name), ro}
}

// jobCanary's analysis step runs a Job (a smoke test whose pod exits 0).
func jobCanary(name string) []client.Object {
	ro := rollout(name, v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		StableService: name + "-stable", CanaryService: name + "-canary",
		Steps: []v1alpha1.CanaryStep{
			{SetWeight: ptr.To[int32](50)},
			{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "smoke"}}}},
		},
	}})
	return []client.Object{service(name+"-stable", name), service(name+"-canary", name), ro}
}

// smokeTemplate measures with a Job whose pod exits 0.
func smokeTemplate() *v1alpha1.AnalysisTemplate {
	return &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "smoke"},
		Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{
			Name: "smoke",
			Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Spec: batchv1.JobSpec{
				BackoffLimit: ptr.To[int32](0),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{cluster.AnnotationExitCode: "0"}},
					Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "smoke", Image: "example/smoke-test:1"}}},
				},
			}}},
		}}},
	}
}

func canary(name string) []client.Object {
	return []client.Object{rollout(name, v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
		{SetWeight: ptr.To[int32](50)},
		{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intOrString("1s"))}},
	}}})}
}

// analysedCanary is a canary (with stable and canary Services) whose second
// step is an analysis of the template verdict ("good" or "bad").
func analysedCanary(verdict string) func(string) []client.Object {
	return func(name string) []client.Object {
		ro := rollout(name, v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			StableService: name + "-stable", CanaryService: name + "-canary",
			Steps: []v1alpha1.CanaryStep{
				{SetWeight: ptr.To[int32](50)},
				{Analysis: verdictAnalysis(verdict)},
			},
		}})
		return []client.Object{service(name+"-stable", name), service(name+"-canary", name), ro}
	}
}

func verdictAnalysis(verdict string) *v1alpha1.RolloutAnalysis {
	return &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "verdict"}},
		Args: []v1alpha1.AnalysisRunArgument{{Name: "verdict", Value: verdict}}}
}

// verdictTemplate asks Prometheus for the quality the exporter reports for
// a verdict: 1 for "good", 0 for "bad".
func verdictTemplate(address string) *v1alpha1.AnalysisTemplate {
	return &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "verdict"},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Args: []v1alpha1.Argument{{Name: "verdict"}},
			Metrics: []v1alpha1.Metric{{
				Name:             "quality",
				SuccessCondition: "result[0] >= 1",
				Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
					Address: address,
					Query:   `chaos_release_quality{verdict="{{args.verdict}}"}`,
					Timeout: ptr.To[int64](10),
				}},
			}},
		},
	}
}

// qualityExporter serves the gauge the verdict template queries.
func qualityExporter() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE chaos_release_quality gauge\nchaos_release_quality{verdict=\"good\"} 1\nchaos_release_quality{verdict=\"bad\"} 0\n")
	}))
}

func routedCanary(name string, tr *v1alpha1.RolloutTrafficRouting) *v1alpha1.Rollout {
	return rollout(name, v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		StableService: name + "-stable", CanaryService: name + "-canary",
		TrafficRouting: tr, Steps: routedSteps(), ScaleDownDelaySeconds: ptr.To[int32](0),
	}})
}

// gatewayCanary is routed by the HTTPRoute of its name, rule "main".
func gatewayCanary(name string) []client.Object {
	port := gwv1.PortNumber(80)
	route := &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "public"}}},
			Rules: []gwv1.HTTPRouteRule{{
				Name: ptr.To(gwv1.SectionName("main")),
				BackendRefs: []gwv1.HTTPBackendRef{
					{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name + "-stable"), Port: &port}, Weight: ptr.To[int32](100)}},
					{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name + "-canary"), Port: &port}, Weight: ptr.To[int32](0)}},
				},
			}},
		},
	}
	ro := routedCanary(name, &v1alpha1.RolloutTrafficRouting{GatewayAPI: &v1alpha1.GatewayAPITrafficRouting{HTTPRoute: name}})
	return []client.Object{service(name+"-stable", name), service(name+"-canary", name), route, ro}
}

// albCanary is routed by the forward action the AWS Load Balancer
// Controller reads from its Ingress's annotations.
func albCanary(name string) []client.Object {
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("alb"),
			Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name + "-stable", Port: networkingv1.ServiceBackendPort{Name: "use-annotation"}}}},
			}}}}},
		},
	}
	ro := routedCanary(name, &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: name, ServicePort: 80}})
	return []client.Object{service(name+"-stable", name), service(name+"-canary", name), ing, ro}
}

// routeWeight is the canary's weight in an HTTPRoute's rule "main".
func routeWeight(r *gwv1.HTTPRoute, canaryService string) (int32, bool) {
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			if string(b.Name) == canaryService && b.Weight != nil {
				return *b.Weight, true
			}
		}
	}
	return 0, false
}

// albWeight is the canary's weight in an Ingress's forward action.
func albWeight(ing *networkingv1.Ingress, stableService, canaryService string) (int32, bool) {
	raw := ing.Annotations["alb.ingress.kubernetes.io/actions."+stableService]
	if raw == "" {
		return 0, false
	}
	var action struct {
		ForwardConfig struct {
			TargetGroups []struct {
				ServiceName string         `json:"serviceName"`
				Weight      json64OrString `json:"weight"`
			} `json:"targetGroups"`
		} `json:"forwardConfig"`
	}
	if err := json.Unmarshal([]byte(raw), &action); err != nil {
		return 0, false
	}
	for _, tg := range action.ForwardConfig.TargetGroups {
		if tg.ServiceName == canaryService {
			return int32(tg.Weight), true
		}
	}
	return 0, false
}

// json64OrString reads a number written as a number or a string.
type json64OrString int64

func (n *json64OrString) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) > 1 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	*n = json64OrString(v)
	return err
}
