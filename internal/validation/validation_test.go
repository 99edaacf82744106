package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func baseRollout() *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "r"},
		Spec: v1alpha1.RolloutSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "r"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "r"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}},
		},
	}
}

func routed(ro *v1alpha1.Rollout, tr *v1alpha1.RolloutTrafficRouting) *v1alpha1.Rollout {
	ro.Spec.Strategy.Canary.CanaryService = "canary"
	ro.Spec.Strategy.Canary.StableService = "stable"
	ro.Spec.Strategy.Canary.TrafficRouting = tr
	return ro
}

// Rules only the Go validator can say, with the field path and message a
// user sees in the InvalidSpec condition and in `ramp lint`.
func TestRolloutRules(t *testing.T) {
	header := v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "h", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "X", HeaderValue: &v1alpha1.StringMatch{Prefix: "a"}}}}}
	cases := []struct {
		name   string
		mutate func(*v1alpha1.Rollout) *v1alpha1.Rollout
		want   []string // "path: message fragment"
	}{
		{"valid", func(r *v1alpha1.Rollout) *v1alpha1.Rollout { return r }, nil},
		{"selector does not match template", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.Template.Labels = map[string]string{"app": "other"}
			return r
		}, []string{"spec.template.metadata.labels: Invalid value", "must match spec.selector app=r"}},
		{"empty selector", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.Selector = &metav1.LabelSelector{}
			return r
		}, []string{"spec.selector: Invalid value", "would select every pod"}},
		{"progress deadline below minReadySeconds", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.MinReadySeconds = 30
			r.Spec.ProgressDeadlineSeconds = ptr.To[int32](10)
			return r
		}, []string{"spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds"}},
		{"scaleDownDelayRevisionLimit above revisionHistoryLimit", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.RevisionHistoryLimit = ptr.To[int32](2)
			r.Spec.Strategy.Canary.ScaleDownDelayRevisionLimit = ptr.To[int32](3)
			return r
		}, []string{"spec.strategy.canary.scaleDownDelayRevisionLimit: Invalid value: 3: must not exceed revisionHistoryLimit (2)"}},
		{"setCanaryScale needs traffic routing", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr.To[int32](1)}}}
			return r
		}, []string{"spec.strategy.canary.steps[0].setCanaryScale: Forbidden: requires trafficRouting"}},
		{"dynamicStableScale needs traffic routing", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.Strategy.Canary.DynamicStableScale = true
			return r
		}, []string{"spec.strategy.canary.dynamicStableScale: Forbidden: requires trafficRouting"}},
		{"traffic routing needs services", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "i"}}
			return r
		}, []string{"spec.strategy.canary.stableService: Required value: canaryService and stableService are required with trafficRouting"}},
		{"header route not in managedRoutes", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r = routed(r, &v1alpha1.RolloutTrafficRouting{Istio: &v1alpha1.IstioTrafficRouting{VirtualService: &v1alpha1.IstioVirtualService{Name: "vs"}}})
			r.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{header}
			return r
		}, []string{"spec.strategy.canary.steps[0].setHeaderRoute.name: Invalid value: \"h\": must be listed in trafficRouting.managedRoutes"}},
		{"header route on nginx", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r = routed(r, &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "i"}, ManagedRoutes: []v1alpha1.MangedRoutes{{Name: "h"}}})
			r.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{header}
			return r
		}, []string{"spec.strategy.canary.steps[0].setHeaderRoute: Forbidden: the nginx router cannot do header routes"}},
		{"prefix header match on alb", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r = routed(r, &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "i", ServicePort: 80}, ManagedRoutes: []v1alpha1.MangedRoutes{{Name: "h"}}})
			r.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{header}
			return r
		}, []string{"spec.strategy.canary.steps[0].setHeaderRoute.match[0].headerValue: Forbidden: the alb router matches header values exactly"}},
		{"mirror route on smi", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r = routed(r, &v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{}, ManagedRoutes: []v1alpha1.MangedRoutes{{Name: "m"}}})
			r.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetMirrorRoute: &v1alpha1.SetMirrorRoute{Name: "m"}}}
			return r
		}, []string{"spec.strategy.canary.steps[0].setMirrorRoute: Forbidden: the smi router cannot do mirror routes"}},
		{"maxTrafficWeight on alb", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			return routed(r, &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "i", ServicePort: 80}, MaxTrafficWeight: ptr.To[int32](1000)})
		}, []string{"spec.strategy.canary.trafficRouting.maxTrafficWeight: Forbidden: not supported by the alb router"}},
		{"pingPong with alb needs rootService", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.Strategy.Canary.PingPong = &v1alpha1.PingPongSpec{PingService: "ping", PongService: "pong"}
			r.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "i", ServicePort: 80}}
			return r
		}, []string{"spec.strategy.canary.trafficRouting.alb.rootService: Required value: required with pingPong"}},
		{"startingStep past the steps", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](10)}}
			r.Spec.Strategy.Canary.Analysis = &v1alpha1.RolloutAnalysisBackground{
				RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "t"}}},
				StartingStep:    ptr.To[int32](3),
			}
			return r
		}, []string{"spec.strategy.canary.analysis.startingStep: Invalid value: 3: must be a step index between 0 and 0"}},
		{"bad fieldRef", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.Strategy.Canary.Analysis = &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{
				Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "t"}},
				Args:      []v1alpha1.AnalysisRunArgument{{Name: "a", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "metadata.secret"}}}},
			}}
			return r
		}, []string{"spec.strategy.canary.analysis.args[0].valueFrom.fieldRef.fieldPath: Invalid value: \"metadata.secret\""}},
		{"pause duration with a bad unit", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			d := intstr.FromString("10 minutes")
			r.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{Pause: &v1alpha1.RolloutPause{Duration: &d}}}
			return r
		}, []string{"spec.strategy.canary.steps[0].pause.duration: Invalid value: \"10 minutes\""}},
		{"workloadRef with a template", func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
			r.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "d"}
			return r
		}, []string{"spec.template: Forbidden: template and workloadRef are mutually exclusive"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := Rollout(tc.mutate(baseRollout()))
			got := errs.ToAggregate()
			if len(tc.want) == 0 {
				if got != nil {
					t.Fatalf("want valid, got %v", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("want %v, got no error", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, got)
				}
			}
		})
	}
}

func TestEveryViolationIsReported(t *testing.T) {
	r := baseRollout()
	r.Spec.Replicas = ptr.To[int32](-1)
	r.Spec.Strategy.Canary.CanaryService = "same"
	r.Spec.Strategy.Canary.StableService = "same"
	r.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](101)}, {}}
	errs := Rollout(r)
	want := []string{"spec.replicas", "spec.strategy.canary.canaryService", "spec.strategy.canary.steps[0].setWeight", "spec.strategy.canary.steps[1]"}
	if len(errs) != len(want) {
		t.Fatalf("want %d violations, got %d:\n%v", len(want), len(errs), errs.ToAggregate())
	}
	for i, w := range want {
		if errs[i].Field != w {
			t.Errorf("violation %d at %s, want %s", i, errs[i].Field, w)
		}
	}
}

func TestMetricRules(t *testing.T) {
	prom := v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: "up"}}
	cases := []struct {
		name   string
		metric v1alpha1.Metric
		want   string
	}{
		{"valid", v1alpha1.Metric{Name: "m", Provider: prom}, ""},
		{"count as an argument", v1alpha1.Metric{Name: "m", Count: ptr.To(intstr.FromString("{{args.count}}")), Interval: "1m", Provider: prom}, ""},
		{"count not a number", v1alpha1.Metric{Name: "m", Count: ptr.To(intstr.FromString("many")), Provider: prom}, "spec.metrics[0].count: Invalid value: \"many\""},
		{"failureLimit above count", v1alpha1.Metric{Name: "m", Count: ptr.To(intstr.FromInt32(2)), Interval: "1m", FailureLimit: ptr.To(intstr.FromInt32(3)), Provider: prom}, "spec.metrics[0].failureLimit: Invalid value: 3: must not exceed count (2)"},
		{"failureLimit -1 without consecutiveSuccessLimit", v1alpha1.Metric{Name: "m", FailureLimit: ptr.To(intstr.FromInt32(-1)), Provider: prom}, "spec.metrics[0].consecutiveSuccessLimit: Required value"},
		{"failureLimit below -1", v1alpha1.Metric{Name: "m", FailureLimit: ptr.To(intstr.FromInt32(-2)), Provider: prom}, "spec.metrics[0].failureLimit: Invalid value: -2: must be at least -1"},
		{"web body with GET", v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x", JSONBody: []byte(`{"a":1}`)}}}, "spec.metrics[0].provider.web.method: Forbidden: a request body needs method POST or PUT"},
		{"web url not http", v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "ftp://x"}}}, "spec.metrics[0].provider.web.url: Invalid value: \"ftp://x\": must be an http:// or https:// URL"},
		{"job restartPolicy Always", v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{}}}, "spec.metrics[0].provider.job.spec.template.spec.restartPolicy: Unsupported value"},
		{"oauth2 without tokenUrl", v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: "up",
			Authentication: v1alpha1.Authentication{OAuth2: v1alpha1.OAuth2Config{ClientID: "c"}}}}}, "spec.metrics[0].provider.prometheus.authentication.oauth2.tokenUrl: Required value"},
		{"bad successCondition, with its position", v1alpha1.Metric{Name: "m", SuccessCondition: "result[0] >= ", Provider: prom}, "spec.metrics[0].successCondition: Invalid value: \"result[0] >= \": condition \"result[0] >= \": unexpected token EOF (1:13)"},
		{"unknown name in failureCondition", v1alpha1.Metric{Name: "m", FailureCondition: "reslt > 1", Provider: prom}, "spec.metrics[0].failureCondition: Invalid value: \"reslt > 1\": condition \"reslt > 1\": unknown name reslt"},
		{"condition with an argument is checked later", v1alpha1.Metric{Name: "m", SuccessCondition: "result > {{args.min}}", Provider: prom}, ""},
		{"cloudwatch query with both", v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{CloudWatch: &v1alpha1.CloudWatchMetric{MetricDataQueries: []v1alpha1.CloudWatchMetricDataQuery{
			{Id: "a", Expression: ptr.To("x"), MetricStat: &v1alpha1.CloudWatchMetricStat{}}}}}}, "spec.metrics[0].provider.cloudWatch.metricDataQueries[0]: Invalid value: \"a\": exactly one of expression or metricStat"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := AnalysisTemplate(&v1alpha1.AnalysisTemplate{Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{tc.metric}}})
			got := errs.ToAggregate()
			switch {
			case tc.want == "" && got != nil:
				t.Fatalf("want valid, got %v", got)
			case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
				t.Fatalf("want %q, got %v", tc.want, got)
			}
		})
	}
}

func TestDryRunMustNameAMetric(t *testing.T) {
	tmpl := &v1alpha1.AnalysisTemplate{Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics: []v1alpha1.Metric{{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: "up"}}}},
		DryRun:  []v1alpha1.DryRun{{MetricName: "missing"}, {MetricName: "*"}, {MetricName: "m"}},
	}}
	got := AnalysisTemplate(tmpl).ToAggregate()
	if got == nil || got.Error() != `spec.dryRun[0].metricName: Not found: "missing"` {
		t.Fatalf("got %v", got)
	}
}

func TestNilObjectsAreReportedNotPanicked(t *testing.T) {
	for name, errs := range map[string]int{
		"Rollout":                 len(Rollout(nil)),
		"AnalysisTemplate":        len(AnalysisTemplate(nil)),
		"ClusterAnalysisTemplate": len(ClusterAnalysisTemplate(nil)),
		"AnalysisRun":             len(AnalysisRun(nil)),
		"Experiment":              len(Experiment(nil)),
	} {
		if errs != 1 {
			t.Errorf("%s(nil): %d violations, want 1", name, errs)
		}
	}
	// The zero value of each kind is invalid, and says so.
	if len(Rollout(&v1alpha1.Rollout{})) == 0 || len(AnalysisRun(&v1alpha1.AnalysisRun{})) == 0 || len(Experiment(&v1alpha1.Experiment{})) == 0 {
		t.Error("a zero-value object was reported valid")
	}
}
