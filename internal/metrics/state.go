package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
)

func gauge(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	nn = []string{"namespace", "name"}

	rolloutInfo         = gauge("rollout_info", "Information about a rollout (always 1).", "namespace", "name", "strategy", "traffic_router", "phase")
	replicasAvailable   = gauge("rollout_info_replicas_available", "The rollout's available pods.", nn...)
	replicasUnavailable = gauge("rollout_info_replicas_unavailable", "The rollout's pods that are not available.", nn...)
	replicasDesired     = gauge("rollout_info_replicas_desired", "The rollout's desired pods.", nn...)
	replicasUpdated     = gauge("rollout_info_replicas_updated", "The rollout's pods of the desired template.", nn...)
	rolloutPhase        = gauge("rollout_phase", "Deprecated (Argo Rollouts): the rollout's phase, 1 on the current one.", "namespace", "name", "strategy", "phase")

	runInfo        = gauge("analysis_run_info", "Information about an AnalysisRun (always 1).", "namespace", "name", "phase")
	runPhase       = gauge("analysis_run_phase", "Deprecated (Argo Rollouts): the AnalysisRun's phase, 1 on the current one.", "namespace", "name", "phase")
	runMetricType  = gauge("analysis_run_metric_type", "The provider of each metric of an AnalysisRun (always 1).", "namespace", "name", "metric", "type")
	runMetricPhase = gauge("analysis_run_metric_phase", "The phase of each metric of an AnalysisRun, 1 on the current one.", "namespace", "name", "metric", "type", "dry_run", "phase")

	templateInfo       = gauge("analysis_template_info", "Information about an AnalysisTemplate or ClusterAnalysisTemplate (namespace \"\") (always 1).", nn...)
	templateMetricInfo = gauge("analysis_template_metric_info", "The provider of each metric of a template (always 1).", "namespace", "name", "type", "metric")

	experimentInfo  = gauge("experiment_info", "Information about an Experiment (always 1).", "namespace", "name", "phase")
	experimentPhase = gauge("experiment_phase", "Deprecated (Argo Rollouts): the Experiment's phase, 1 on the current one.", "namespace", "name", "phase")

	controllerInfo = gauge("ramp_controller_info", "The running Ramp controller's version (always 1).", "version")

	stateDescs = []*prometheus.Desc{rolloutInfo, replicasAvailable, replicasUnavailable, replicasDesired, replicasUpdated, rolloutPhase,
		runInfo, runPhase, runMetricType, runMetricPhase, templateInfo, templateMetricInfo, experimentInfo, experimentPhase, controllerInfo}
)

// rolloutPhases are rollout_phase's series, as Argo Rollouts'.
var rolloutPhases = []string{"Completed", "Progressing", "Paused", "Timeout", "Error", "Abort"}

// analysisPhases are analysis_run_phase's and analysis_run_metric_phase's
// series.
var analysisPhases = []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhasePending, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseFailed,
	v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseRunning, v1alpha1.AnalysisPhaseInconclusive}

// experimentPhases are experiment_phase's series: Argo Rollouts has no
// Failed series.
var experimentPhases = []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhasePending, v1alpha1.AnalysisPhaseError,
	v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseRunning, v1alpha1.AnalysisPhaseInconclusive}

func (m *Metrics) emit(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// list reads the cache without copying its objects: a scrape only reads.
func (m *Metrics) list(ctx context.Context, list client.ObjectList, what string) bool {
	if err := m.opts.Reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		m.opts.Log.Error(err, "metrics: listing "+what+" from the cache")
		return false
	}
	return true
}

func (m *Metrics) collectState(ctx context.Context, ch chan<- prometheus.Metric) {
	m.emit(ch, controllerInfo, 1, m.opts.Version)
	if m.opts.Reader == nil {
		return
	}
	var ros v1alpha1.RolloutList
	if m.list(ctx, &ros, "Rollouts") {
		for i := range ros.Items {
			m.collectRollout(ch, &ros.Items[i])
		}
	}
	var runs v1alpha1.AnalysisRunList
	if m.list(ctx, &runs, "AnalysisRuns") {
		for i := range runs.Items {
			m.collectRun(ch, &runs.Items[i])
		}
	}
	var exps v1alpha1.ExperimentList
	if m.list(ctx, &exps, "Experiments") {
		for i := range exps.Items {
			e := &exps.Items[i]
			m.emit(ch, experimentInfo, 1, e.Namespace, e.Name, string(e.Status.Phase))
			current := e.Status.Phase
			if current == "" {
				current = v1alpha1.AnalysisPhasePending
			}
			for _, p := range experimentPhases {
				m.emit(ch, experimentPhase, one(p == current), e.Namespace, e.Name, string(p))
			}
		}
	}
	var templates v1alpha1.AnalysisTemplateList
	if m.list(ctx, &templates, "AnalysisTemplates") {
		for i := range templates.Items {
			t := &templates.Items[i]
			m.collectTemplate(ch, t.Namespace, t.Name, t.Spec.Metrics)
		}
	}
	if m.opts.ClusterTemplates {
		var cluster v1alpha1.ClusterAnalysisTemplateList
		if m.list(ctx, &cluster, "ClusterAnalysisTemplates") {
			for i := range cluster.Items {
				t := &cluster.Items[i]
				m.collectTemplate(ch, "", t.Name, t.Spec.Metrics)
			}
		}
	}
}

func (m *Metrics) collectRollout(ch chan<- prometheus.Metric, ro *v1alpha1.Rollout) {
	strategy := Strategy(ro)
	phase := Phase(ro)
	m.emit(ch, rolloutInfo, 1, ro.Namespace, ro.Name, strategy, TrafficRouter(ro), phase)
	st := &ro.Status
	desired := int32(1)
	if ro.Spec.Replicas != nil {
		desired = *ro.Spec.Replicas
	}
	m.emit(ch, replicasAvailable, float64(st.AvailableReplicas), ro.Namespace, ro.Name)
	m.emit(ch, replicasUnavailable, float64(st.Replicas-st.AvailableReplicas), ro.Namespace, ro.Name)
	m.emit(ch, replicasDesired, float64(desired), ro.Namespace, ro.Name)
	m.emit(ch, replicasUpdated, float64(st.UpdatedReplicas), ro.Namespace, ro.Name)
	for _, p := range rolloutPhases {
		m.emit(ch, rolloutPhase, one(p == phase), ro.Namespace, ro.Name, strategy, p)
	}
}

func (m *Metrics) collectRun(ch chan<- prometheus.Metric, run *v1alpha1.AnalysisRun) {
	m.emit(ch, runInfo, 1, run.Namespace, run.Name, string(run.Status.Phase))
	current := run.Status.Phase
	if current == "" {
		current = v1alpha1.AnalysisPhasePending
	}
	for _, p := range analysisPhases {
		m.emit(ch, runPhase, one(p == current), run.Namespace, run.Name, string(p))
	}
	results := make(map[string]v1alpha1.AnalysisPhase, len(run.Status.MetricResults))
	for _, r := range run.Status.MetricResults {
		results[r.Name] = r.Phase
	}
	for _, metric := range run.Spec.Metrics {
		typ := ProviderType(metric.Provider)
		m.emit(ch, runMetricType, 1, run.Namespace, run.Name, metric.Name, typ)
		dryRun := "false"
		if analysis.DryRun(run.Spec, metric.Name) {
			dryRun = "true"
		}
		phase := results[metric.Name]
		if phase == "" {
			phase = v1alpha1.AnalysisPhasePending
		}
		for _, p := range analysisPhases {
			m.emit(ch, runMetricPhase, one(p == phase), run.Namespace, run.Name, metric.Name, typ, dryRun, string(p))
		}
	}
}

func (m *Metrics) collectTemplate(ch chan<- prometheus.Metric, namespace, name string, metrics []v1alpha1.Metric) {
	m.emit(ch, templateInfo, 1, namespace, name)
	for _, metric := range metrics {
		m.emit(ch, templateMetricInfo, 1, namespace, name, ProviderType(metric.Provider), metric.Name)
	}
}
