package analysisrun_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis/cloudwatch/cloudwatchtest"
	"github.com/rampdev/ramp/internal/analysis/datadog/datadogtest"
	"github.com/rampdev/ramp/internal/replicaset"
)

// The Rollout and AnalysisRun controllers with the providers of SaaS tests
// cannot reach, through local servers that speak their wire formats.

// A blue/green rollout's pre-promotion analysis asks CloudWatch for the 5xx
// count of the preview's target group, named from the rollout's status
// (fieldRef status.blueGreen.previewSelector): 0 promotes, 5xx abort.
func TestBlueGreenCloudWatchPrePromotion(t *testing.T) {
	e := newEnv(t)
	err := cl.Create(e.ctx, &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "preview-5xx", Namespace: e.ns},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Args: []v1alpha1.Argument{{Name: "preview"}},
			Metrics: []v1alpha1.Metric{{
				Name:             "preview-5xx",
				SuccessCondition: "len(result[0].Values) > 0 && all(result[0].Values, {# == 0})",
				Provider: v1alpha1.MetricProvider{CloudWatch: &v1alpha1.CloudWatchMetric{
					Interval: "5m",
					MetricDataQueries: []v1alpha1.CloudWatchMetricDataQuery{{
						Id: "errors",
						MetricStat: &v1alpha1.CloudWatchMetricStat{
							Metric: v1alpha1.CloudWatchMetricStatMetric{
								Namespace: ptr.To("AWS/ApplicationELB"), MetricName: ptr.To("HTTPCode_Target_5XX_Count"),
								Dimensions: []v1alpha1.CloudWatchMetricStatMetricDimension{{Name: "TargetGroup", Value: "targetgroup/" + e.ns + "-{{args.preview}}/1"}},
							},
							Period: intstr.FromInt32(60), Stat: "Sum",
						},
					}},
				}},
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.service("cw-active", "cw")
	e.service("cw-preview", "cw")
	ro := rollout("cw", v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		ActiveService: "cw-active", PreviewService: "cw-preview", AbortScaleDownDelaySeconds: ptr.To[int32](0), ScaleDownDelaySeconds: ptr.To[int32](0),
		PrePromotionAnalysis: &v1alpha1.RolloutAnalysis{
			Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "preview-5xx"}},
			Args: []v1alpha1.AnalysisRunArgument{{Name: "preview", ValueFrom: &v1alpha1.ArgumentValueFrom{
				FieldRef: &v1alpha1.FieldRef{FieldPath: "status.blueGreen.previewSelector"}}}},
		},
	}})
	e.createRollout(ro)
	e.rolloutPhase("cw", v1alpha1.RolloutPhaseHealthy)
	// The data of each version's target group is there before it runs.
	key := func(image string) (string, string) {
		tpl := ro.Spec.Template.DeepCopy()
		tpl.Spec.Containers[0].Image = image
		hash := replicaset.TemplateHash(tpl, nil)
		return hash, cloudwatchtest.Key("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "TargetGroup=targetgroup/"+e.ns+"-"+hash+"/1")
	}
	v2, k2 := key("example/cw:2")
	cw.Set(k2, 0, 0, 0)
	e.setImage("cw", "example/cw:2")
	got := e.rolloutPhase("cw", v1alpha1.RolloutPhaseHealthy)
	if got.Status.StableRS != v2 || e.selector("cw-active") != v2 {
		t.Fatalf("not promoted on 0 5xx: stable %s, active %s, want %s", got.Status.StableRS, e.selector("cw-active"), v2)
	}
	_, k3 := key("example/cw:3")
	cw.Set(k3, 0, 14, 2)
	e.setImage("cw", "example/cw:3")
	got = e.rolloutPhase("cw", v1alpha1.RolloutPhaseDegraded)
	for _, want := range []string{`Metric "preview-5xx" assessed Failed`, "last value [[0 14 2]]"} {
		if !strings.Contains(got.Status.Message, want) {
			t.Errorf("message %q lacks %q", got.Status.Message, want)
		}
	}
	if e.selector("cw-active") != v2 {
		t.Errorf("the active Service left v2 on a failed analysis")
	}
}

// A canary with a Datadog background analysis (keys from a Secret in the
// rollout's namespace) is aborted when Datadog reports a failing value,
// and its weight returns to 0.
func TestCanaryDatadogBackgroundAnalysisAborts(t *testing.T) {
	e := newEnv(t)
	dd := datadogtest.Start(t)
	const query = "sum:trace.http.request.errors{service:shop}.as_rate()"
	dd.SetSeries(query, datadogtest.V(0), datadogtest.V(0.001))
	err := cl.Create(e.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dd", Namespace: e.ns},
		StringData: map[string]string{"address": dd.URL, "api-key": datadogtest.APIKey, "app-key": datadogtest.AppKey}})
	if err != nil {
		t.Fatal(err)
	}
	e.template("dd-errors", v1alpha1.Metric{
		Name: "error-rate", Interval: "200ms", SuccessCondition: "default(result, 0) < 0.05",
		Provider: v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{Query: query, Interval: "5m", ApiVersion: "v1",
			SecretRef: v1alpha1.SecretRef{Name: "dd", Namespaced: true}}},
	})
	e.service("dd-canary", "dd")
	e.service("dd-stable", "dd")
	e.createRollout(rollout("dd", v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		CanaryService: "dd-canary", StableService: "dd-stable", ScaleDownDelaySeconds: ptr.To[int32](0),
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{}},
		Steps:          []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](25)}, {Pause: &v1alpha1.RolloutPause{}}, {SetWeight: ptr.To[int32](75)}, {Pause: &v1alpha1.RolloutPause{}}},
		Analysis:       &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "dd-errors"}}}},
	}}))
	e.rolloutPhase("dd", v1alpha1.RolloutPhaseHealthy)
	e.setImage("dd", "example/dd:2")
	router := routers.For(types.NamespacedName{Namespace: e.ns, Name: "dd"})
	e.eventually(30*time.Second, "paused at weight 25 with successful measurements", func() (bool, string) {
		ro := e.rollout("dd")
		st := ro.Status.Canary.CurrentBackgroundAnalysisRunStatus
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && router.Weight() == 25 && st != nil && len(dd.Requests()) >= 2,
			fmt.Sprint(ro.Status.Phase, " ", router.Weight(), " ", len(dd.Requests()))
	})
	dd.SetSeries(query, datadogtest.V(0.01), datadogtest.V(0.2))
	ro := e.rolloutPhase("dd", v1alpha1.RolloutPhaseDegraded)
	if !strings.Contains(ro.Status.Message, `Metric "error-rate" assessed Failed`) || !strings.Contains(ro.Status.Message, "last value 0.2") {
		t.Errorf("message %q", ro.Status.Message)
	}
	e.eventually(20*time.Second, "weight back to 0", func() (bool, string) { return router.Weight() == 0, fmt.Sprint(router.Weight()) })
	if strings.Contains(ro.Status.Message, datadogtest.APIKey) {
		t.Error("the key in the rollout's message")
	}
}
