package metrics_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/metrics"
)

// BenchmarkScrape10000Rollouts is one scrape (collect, gather and encode
// as the /metrics handler does) of a controller holding 10,000 rollouts,
// each reconciled once and with one AnalysisRun of two metrics, and 1,000
// AnalysisTemplates.
// It reports the series a scrape carries.
//
//	go test -run - -bench Scrape ./internal/metrics/
func BenchmarkScrape10000Rollouts(b *testing.B) {
	const n = 10_000
	l := &lists{}
	for i := range n {
		ns, name := fmt.Sprintf("team-%d", i%100), fmt.Sprintf("app-%d", i)
		l.rollouts = append(l.rollouts, v1alpha1.Rollout{ObjectMeta: meta(ns, name),
			Spec: v1alpha1.RolloutSpec{Replicas: ptr.To[int32](3), Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: name}},
			}}},
			Status: v1alpha1.RolloutStatus{Replicas: 3, AvailableReplicas: 3, UpdatedReplicas: 3, Conditions: []v1alpha1.RolloutCondition{
				{Type: v1alpha1.RolloutAvailable}, {Type: v1alpha1.RolloutProgressing, Reason: v1alpha1.ReasonNewReplicaSetAvailable},
			}},
		})
		l.runs = append(l.runs, v1alpha1.AnalysisRun{ObjectMeta: meta(ns, name+"-1"),
			Spec:   v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{promMetric("errors"), promMetric("latency")}},
			Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseSuccessful},
		})
		if i%10 == 0 {
			l.templates = append(l.templates, v1alpha1.AnalysisTemplate{ObjectMeta: meta(ns, name),
				Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{promMetric("errors")}}})
		}
	}
	m := metrics.New(metrics.Options{Reader: l, Version: "bench"})
	reconciled := m.Reconciler(metrics.Rollout, reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
		return reconcile.Result{}, nil
	}))
	for _, ro := range l.rollouts {
		reconciled.Reconcile(b.Context(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}})
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	series := 0
	b.ReportAllocs()
	for b.Loop() {
		families, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		series = 0
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, f := range families {
			series += len(f.GetMetric())
			if err := enc.Encode(f); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(series), "series")
}
