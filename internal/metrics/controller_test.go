package metrics_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// scrape reads the controller's /metrics as Prometheus does.
func scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// sample finds the one series of name whose labels include want; ok is
// false when there is none.
func sample(families map[string]*dto.MetricFamily, name string, want map[string]string) (m *dto.Metric, ok bool) {
	f := families[name]
	if f == nil {
		return nil, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

// gaugeIs says whether the series exists with value v, and what it saw.
func gaugeIs(families map[string]*dto.MetricFamily, name string, labels map[string]string, v float64) (bool, string) {
	m, ok := sample(families, name, labels)
	if !ok {
		return false, fmt.Sprintf("no %s%v", name, labels)
	}
	got := m.GetGauge().GetValue()
	if m.GetCounter() != nil {
		got = m.GetCounter().GetValue()
	}
	return got == v, fmt.Sprintf("%s%v = %v, want %v", name, labels, got, v)
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// A canary with a background analysis, scraped at its pause and after an
// abort: every Argo-compatible metric carries the rollout's, run's and
// template's labels and the values the API shows.
func TestMetricsOfACanary(t *testing.T) {
	ctx := t.Context()
	ns := clustertest.Namespace(t, cl)
	template := &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "errors"},
		Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{
			Name: "errors", Interval: "2s", SuccessCondition: "result[0] == 0",
			Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Address: promURL, Query: "vector(0)"}},
		}}},
	}
	if err := cl.Create(ctx, template); err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "shop"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/shop:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				Steps: []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](50)}, {Pause: &v1alpha1.RolloutPause{}}},
				Analysis: &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{
					Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "errors"}},
				}},
			}},
		},
	}
	if err := cl.Create(ctx, ro); err != nil {
		t.Fatal(err)
	}
	get := func() *v1alpha1.Rollout {
		t.Helper()
		ro := &v1alpha1.Rollout{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop"}, ro); err != nil {
			t.Fatal(err)
		}
		return ro
	}
	phase := func(want v1alpha1.RolloutPhase) *v1alpha1.Rollout {
		t.Helper()
		var ro *v1alpha1.Rollout
		clustertest.Eventually(t, 60*time.Second, "rollout "+string(want), func() (bool, string) {
			ro = get()
			return ro.Status.Phase == want && ro.Status.ObservedGeneration == fmt.Sprint(ro.Generation), string(ro.Status.Phase) + ": " + ro.Status.Message
		})
		return ro
	}
	phase(v1alpha1.RolloutPhaseHealthy)
	id := map[string]string{"namespace": ns, "name": "shop"}
	clustertest.Eventually(t, 30*time.Second, "a Healthy rollout is Completed", func() (bool, string) {
		return gaugeIs(scrape(t), "rollout_info", with(id, "phase", "Completed", "strategy", "canary", "traffic_router", ""), 1)
	})

	// A new image: the canary pauses at step 2 with its analysis running.
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = "example/shop:2"
	if err := cl.Patch(ctx, ro, patch); err != nil {
		t.Fatal(err)
	}
	paused := phase(v1alpha1.RolloutPhasePaused)
	var run v1alpha1.AnalysisRun
	clustertest.Eventually(t, 30*time.Second, "the background run measures", func() (bool, string) {
		var runs v1alpha1.AnalysisRunList
		if err := cl.List(ctx, &runs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if len(runs.Items) != 1 || len(runs.Items[0].Status.MetricResults) == 0 {
			return false, fmt.Sprintf("%d runs", len(runs.Items))
		}
		run = runs.Items[0]
		return true, ""
	})
	clustertest.Eventually(t, 30*time.Second, "metrics at the pause", func() (bool, string) {
		f := scrape(t)
		paused = get()
		metric := string(run.Status.MetricResults[0].Phase)
		if r := getRun(t, ns, run.Name); r.Status.MetricResults[0].Phase != run.Status.MetricResults[0].Phase {
			return false, "the run's metric phase moved"
		}
		runID := map[string]string{"namespace": ns, "name": run.Name}
		for _, c := range []struct {
			name   string
			labels map[string]string
			value  float64
		}{
			{"rollout_info", with(id, "phase", "Paused", "strategy", "canary", "traffic_router", ""), 1},
			{"rollout_phase", with(id, "phase", "Paused", "strategy", "canary"), 1},
			{"rollout_phase", with(id, "phase", "Completed", "strategy", "canary"), 0},
			{"rollout_info_replicas_desired", id, 2},
			{"rollout_info_replicas_updated", id, float64(paused.Status.UpdatedReplicas)},
			{"rollout_info_replicas_available", id, float64(paused.Status.AvailableReplicas)},
			{"rollout_info_replicas_unavailable", id, float64(paused.Status.Replicas - paused.Status.AvailableReplicas)},
			{"rollout_events_total", with(id, "type", "Normal", "reason", v1alpha1.ReasonRolloutPaused), 1},
			{"analysis_run_info", with(runID, "phase", "Running"), 1},
			{"analysis_run_phase", with(runID, "phase", "Running"), 1},
			{"analysis_run_metric_type", with(runID, "metric", "errors", "type", "Prometheus"), 1},
			{"analysis_run_metric_phase", with(runID, "metric", "errors", "type", "Prometheus", "dry_run", "false", "phase", metric), 1},
			{"analysis_template_info", map[string]string{"namespace": ns, "name": "errors"}, 1},
			{"analysis_template_metric_info", map[string]string{"namespace": ns, "name": "errors", "metric": "errors", "type": "Prometheus"}, 1},
			{"ramp_controller_info", map[string]string{"version": "dev"}, 1},
		} {
			if ok, why := gaugeIs(f, c.name, c.labels, c.value); !ok {
				return false, why
			}
		}
		if paused.Status.UpdatedReplicas != 1 {
			return false, fmt.Sprintf("status.updatedReplicas = %d", paused.Status.UpdatedReplicas)
		}
		for _, name := range []string{"rollout_reconcile", "analysis_run_reconcile"} {
			labels := id
			if name == "analysis_run_reconcile" {
				labels = runID
			}
			if m, ok := sample(f, name, labels); !ok || m.GetHistogram().GetSampleCount() == 0 {
				return false, "no " + name + " observed"
			}
		}
		return true, ""
	})

	// Abort, as `ramp abort` does: the rollout shows Abort, the abort
	// event is counted, and the run ends.
	patch = client.MergeFrom(paused.DeepCopy())
	paused.Status.Abort = true
	if err := cl.Status().Patch(ctx, paused, patch); err != nil {
		t.Fatal(err)
	}
	phase(v1alpha1.RolloutPhaseDegraded)
	clustertest.Eventually(t, 30*time.Second, "metrics after the abort", func() (bool, string) {
		f := scrape(t)
		r := getRun(t, ns, run.Name)
		if !r.Status.Phase.Completed() {
			return false, "run " + string(r.Status.Phase)
		}
		runID := map[string]string{"namespace": ns, "name": run.Name}
		for _, c := range []struct {
			name   string
			labels map[string]string
			value  float64
		}{
			{"rollout_info", with(id, "phase", "Abort", "strategy", "canary"), 1},
			{"rollout_phase", with(id, "phase", "Abort"), 1},
			{"rollout_phase", with(id, "phase", "Paused"), 0},
			{"rollout_events_total", with(id, "type", "Warning", "reason", v1alpha1.ReasonRolloutAborted), 1},
			{"analysis_run_info", with(runID, "phase", string(r.Status.Phase)), 1},
			{"analysis_run_phase", with(runID, "phase", string(r.Status.Phase)), 1},
			{"analysis_run_phase", with(runID, "phase", "Running"), 0},
		} {
			if ok, why := gaugeIs(f, c.name, c.labels, c.value); !ok {
				return false, why
			}
		}
		return true, ""
	})

	// Deleted: its scrape-time series go with it.
	if err := cl.Delete(ctx, get()); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "the deleted rollout's rollout_info goes", func() (bool, string) {
		_, ok := sample(scrape(t), "rollout_info", id)
		return !ok, "rollout_info is still exported"
	})
}

func getRun(t testing.TB, ns, name string) *v1alpha1.AnalysisRun {
	t.Helper()
	r := &v1alpha1.AnalysisRun{}
	if err := cl.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
		t.Fatal(err)
	}
	return r
}
