package metrics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/metrics"
)

// lists is a client.Reader over fixed lists: it stands in for the
// manager's cache, whose only use here is List (the end-to-end test scrapes
// a controller reading the real cache).
type lists struct {
	rollouts    []v1alpha1.Rollout
	runs        []v1alpha1.AnalysisRun
	experiments []v1alpha1.Experiment
	templates   []v1alpha1.AnalysisTemplate
	cluster     []v1alpha1.ClusterAnalysisTemplate
}

func (l *lists) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return fmt.Errorf("not used")
}

func (l *lists) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	switch list := list.(type) {
	case *v1alpha1.RolloutList:
		list.Items = l.rollouts
	case *v1alpha1.AnalysisRunList:
		list.Items = l.runs
	case *v1alpha1.ExperimentList:
		list.Items = l.experiments
	case *v1alpha1.AnalysisTemplateList:
		list.Items = l.templates
	case *v1alpha1.ClusterAnalysisTemplateList:
		list.Items = l.cluster
	default:
		return fmt.Errorf("unexpected %T", list)
	}
	return nil
}

func meta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

func promMetric(name string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: name, Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: "up"}}}
}

// The scrape-time gauges carry Argo Rollouts' names, labels and values.
func TestStateMetrics(t *testing.T) {
	paused := v1alpha1.Rollout{ObjectMeta: meta("shop", "cart"),
		Spec: v1alpha1.RolloutSpec{Replicas: ptr.To[int32](4), Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "cart"}, SMI: &v1alpha1.SMITrafficRouting{}},
		}}},
		Status: v1alpha1.RolloutStatus{Replicas: 5, AvailableReplicas: 3, UpdatedReplicas: 1, Conditions: []v1alpha1.RolloutCondition{
			{Type: v1alpha1.RolloutProgressing, Reason: v1alpha1.ReasonRolloutPaused},
		}},
	}
	invalid := v1alpha1.Rollout{ObjectMeta: meta("shop", "pay"),
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{}}},
		Status: v1alpha1.RolloutStatus{Conditions: []v1alpha1.RolloutCondition{
			{Type: v1alpha1.RolloutProgressing, Reason: v1alpha1.ReasonNewReplicaSetAvailable},
			{Type: v1alpha1.InvalidSpec, Reason: v1alpha1.ReasonInvalidSpec},
		}},
	}
	web := promMetric("latency")
	web.Provider = v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x"}}
	run := v1alpha1.AnalysisRun{ObjectMeta: meta("shop", "cart-1"),
		Spec: v1alpha1.AnalysisRunSpec{
			Metrics: []v1alpha1.Metric{promMetric("errors"), web},
			DryRun:  []v1alpha1.DryRun{{MetricName: "latency"}},
		},
		Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseRunning, MetricResults: []v1alpha1.MetricResult{
			{Name: "errors", Phase: v1alpha1.AnalysisPhaseFailed},
		}},
	}
	m := metrics.New(metrics.Options{Version: "v9", ClusterTemplates: true, Reader: &lists{
		rollouts:    []v1alpha1.Rollout{paused, invalid},
		runs:        []v1alpha1.AnalysisRun{run},
		experiments: []v1alpha1.Experiment{{ObjectMeta: meta("shop", "exp")}},
		templates:   []v1alpha1.AnalysisTemplate{{ObjectMeta: meta("shop", "errors"), Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{promMetric("errors")}}}},
		cluster:     []v1alpha1.ClusterAnalysisTemplate{{ObjectMeta: meta("", "global"), Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{web}}}},
	}})
	const want = `
# HELP rollout_info Information about a rollout (always 1).
# TYPE rollout_info gauge
rollout_info{name="cart",namespace="shop",phase="Paused",strategy="canary",traffic_router="SMI"} 1
rollout_info{name="pay",namespace="shop",phase="InvalidSpec",strategy="blueGreen",traffic_router=""} 1
# HELP rollout_info_replicas_available The rollout's available pods.
# TYPE rollout_info_replicas_available gauge
rollout_info_replicas_available{name="cart",namespace="shop"} 3
rollout_info_replicas_available{name="pay",namespace="shop"} 0
# HELP rollout_info_replicas_desired The rollout's desired pods.
# TYPE rollout_info_replicas_desired gauge
rollout_info_replicas_desired{name="cart",namespace="shop"} 4
rollout_info_replicas_desired{name="pay",namespace="shop"} 1
# HELP rollout_info_replicas_unavailable The rollout's pods that are not available.
# TYPE rollout_info_replicas_unavailable gauge
rollout_info_replicas_unavailable{name="cart",namespace="shop"} 2
rollout_info_replicas_unavailable{name="pay",namespace="shop"} 0
# HELP rollout_info_replicas_updated The rollout's pods of the desired template.
# TYPE rollout_info_replicas_updated gauge
rollout_info_replicas_updated{name="cart",namespace="shop"} 1
rollout_info_replicas_updated{name="pay",namespace="shop"} 0
# HELP rollout_phase Deprecated (Argo Rollouts): the rollout's phase, 1 on the current one.
# TYPE rollout_phase gauge
rollout_phase{name="cart",namespace="shop",phase="Abort",strategy="canary"} 0
rollout_phase{name="cart",namespace="shop",phase="Completed",strategy="canary"} 0
rollout_phase{name="cart",namespace="shop",phase="Error",strategy="canary"} 0
rollout_phase{name="cart",namespace="shop",phase="Paused",strategy="canary"} 1
rollout_phase{name="cart",namespace="shop",phase="Progressing",strategy="canary"} 0
rollout_phase{name="cart",namespace="shop",phase="Timeout",strategy="canary"} 0
rollout_phase{name="pay",namespace="shop",phase="Abort",strategy="blueGreen"} 0
rollout_phase{name="pay",namespace="shop",phase="Completed",strategy="blueGreen"} 0
rollout_phase{name="pay",namespace="shop",phase="Error",strategy="blueGreen"} 0
rollout_phase{name="pay",namespace="shop",phase="Paused",strategy="blueGreen"} 0
rollout_phase{name="pay",namespace="shop",phase="Progressing",strategy="blueGreen"} 0
rollout_phase{name="pay",namespace="shop",phase="Timeout",strategy="blueGreen"} 0
# HELP analysis_run_info Information about an AnalysisRun (always 1).
# TYPE analysis_run_info gauge
analysis_run_info{name="cart-1",namespace="shop",phase="Running"} 1
# HELP analysis_run_phase Deprecated (Argo Rollouts): the AnalysisRun's phase, 1 on the current one.
# TYPE analysis_run_phase gauge
analysis_run_phase{name="cart-1",namespace="shop",phase="Error"} 0
analysis_run_phase{name="cart-1",namespace="shop",phase="Failed"} 0
analysis_run_phase{name="cart-1",namespace="shop",phase="Inconclusive"} 0
analysis_run_phase{name="cart-1",namespace="shop",phase="Pending"} 0
analysis_run_phase{name="cart-1",namespace="shop",phase="Running"} 1
analysis_run_phase{name="cart-1",namespace="shop",phase="Successful"} 0
# HELP analysis_run_metric_type The provider of each metric of an AnalysisRun (always 1).
# TYPE analysis_run_metric_type gauge
analysis_run_metric_type{metric="errors",name="cart-1",namespace="shop",type="Prometheus"} 1
analysis_run_metric_type{metric="latency",name="cart-1",namespace="shop",type="Web"} 1
# HELP analysis_run_metric_phase The phase of each metric of an AnalysisRun, 1 on the current one.
# TYPE analysis_run_metric_phase gauge
analysis_run_metric_phase{dry_run="false",metric="errors",name="cart-1",namespace="shop",phase="Error",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="false",metric="errors",name="cart-1",namespace="shop",phase="Failed",type="Prometheus"} 1
analysis_run_metric_phase{dry_run="false",metric="errors",name="cart-1",namespace="shop",phase="Inconclusive",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="false",metric="errors",name="cart-1",namespace="shop",phase="Pending",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="false",metric="errors",name="cart-1",namespace="shop",phase="Running",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="false",metric="errors",name="cart-1",namespace="shop",phase="Successful",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="true",metric="latency",name="cart-1",namespace="shop",phase="Error",type="Web"} 0
analysis_run_metric_phase{dry_run="true",metric="latency",name="cart-1",namespace="shop",phase="Failed",type="Web"} 0
analysis_run_metric_phase{dry_run="true",metric="latency",name="cart-1",namespace="shop",phase="Inconclusive",type="Web"} 0
analysis_run_metric_phase{dry_run="true",metric="latency",name="cart-1",namespace="shop",phase="Pending",type="Web"} 1
analysis_run_metric_phase{dry_run="true",metric="latency",name="cart-1",namespace="shop",phase="Running",type="Web"} 0
analysis_run_metric_phase{dry_run="true",metric="latency",name="cart-1",namespace="shop",phase="Successful",type="Web"} 0
# HELP analysis_template_info Information about an AnalysisTemplate or ClusterAnalysisTemplate (namespace "") (always 1).
# TYPE analysis_template_info gauge
analysis_template_info{name="errors",namespace="shop"} 1
analysis_template_info{name="global",namespace=""} 1
# HELP analysis_template_metric_info The provider of each metric of a template (always 1).
# TYPE analysis_template_metric_info gauge
analysis_template_metric_info{metric="errors",name="errors",namespace="shop",type="Prometheus"} 1
analysis_template_metric_info{metric="latency",name="global",namespace="",type="Web"} 1
# HELP experiment_info Information about an Experiment (always 1).
# TYPE experiment_info gauge
experiment_info{name="exp",namespace="shop",phase=""} 1
# HELP experiment_phase Deprecated (Argo Rollouts): the Experiment's phase, 1 on the current one.
# TYPE experiment_phase gauge
experiment_phase{name="exp",namespace="shop",phase="Error"} 0
experiment_phase{name="exp",namespace="shop",phase="Inconclusive"} 0
experiment_phase{name="exp",namespace="shop",phase="Pending"} 1
experiment_phase{name="exp",namespace="shop",phase="Running"} 0
experiment_phase{name="exp",namespace="shop",phase="Successful"} 0
# HELP ramp_controller_info The running Ramp controller's version (always 1).
# TYPE ramp_controller_info gauge
ramp_controller_info{version="v9"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
