// Package metrics exports the Prometheus metrics Argo Rollouts exports,
// with the same names, labels and values, so that dashboards and alerts
// written for Argo Rollouts keep working on Ramp:
//
//   - scrape-time gauges (rollout_info, rollout_info_replicas_*,
//     rollout_phase, analysis_run_info, analysis_run_phase,
//     analysis_run_metric_type, analysis_run_metric_phase,
//     analysis_template_info, analysis_template_metric_info,
//     experiment_info, experiment_phase, ramp_controller_info), computed
//     on each scrape from the manager's cache: no goroutine per object and
//     no API request;
//   - event-driven series (rollout_reconcile, rollout_reconcile_error,
//     rollout_events_total, analysis_run_reconcile(_error),
//     experiment_reconcile(_error)), recorded by wrapping the reconcilers
//     (Metrics.Reconciler) and the event recorder (Metrics.Recorder). A
//     deleted object's series go 65 seconds after its reconciler found it
//     gone (longer than Prometheus' default scrape interval, as Argo
//     Rollouts), so that its last values are scraped once.
//
// Metrics is one prometheus.Collector per manager; Start registers it with
// controller-runtime's registry (served at --metrics-bind-address) for as
// long as the manager runs.
package metrics
