package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Kind is a kind of object whose reconciles are measured.
type Kind string

// The kinds Ramp reconciles, named as the metrics' prefixes.
const (
	Rollout     Kind = "rollout"
	AnalysisRun Kind = "analysis_run"
	Experiment  Kind = "experiment"
)

// kindSeries are one kind's <kind>_reconcile and <kind>_reconcile_error.
type kindSeries struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

func newKindSeries(k Kind) *kindSeries {
	return &kindSeries{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    string(k) + "_reconcile",
			Help:    "How long one reconcile of the object took, in seconds.",
			Buckets: reconcileBuckets,
		}, []string{"namespace", "name"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: string(k) + "_reconcile_error",
			Help: "Reconciles of the object that ended in an error.",
		}, []string{"namespace", "name"}),
	}
}

type goneKey struct {
	kind            Kind
	namespace, name string
}

type outcomeKey struct{}

// outcome is what a reconcile tells its wrapper through the context.
type outcome struct{ gone bool }

// Gone tells the metrics that the object being reconciled no longer
// exists: the reconcile is not observed, and the object's series go
// GoneAfter later. It does nothing outside a measured reconcile.
func Gone(ctx context.Context) {
	if o, ok := ctx.Value(outcomeKey{}).(*outcome); ok {
		o.gone = true
	}
}

// Reconciler measures r's reconciles of kind k: their duration, their
// errors, and the objects found gone. A nil m measures nothing and returns
// r.
func (m *Metrics) Reconciler(k Kind, r reconcile.Reconciler) reconcile.Reconciler {
	if m == nil {
		return r
	}
	series := m.kinds[k]
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		start := m.clock.Now()
		o := &outcome{}
		res, err := r.Reconcile(context.WithValue(ctx, outcomeKey{}, o), req)
		key := goneKey{kind: k, namespace: req.Namespace, name: req.Name}
		if err != nil {
			series.errors.WithLabelValues(req.Namespace, req.Name).Inc()
		}
		if o.gone {
			m.forget(key)
			return res, err
		}
		m.mu.Lock()
		delete(m.gone, key) // created again under the same name
		m.mu.Unlock()
		series.duration.WithLabelValues(req.Namespace, req.Name).Observe(m.clock.Since(start).Seconds())
		return res, err
	})
}

// forget schedules the removal of a deleted object's series.
func (m *Metrics) forget(key goneKey) {
	m.mu.Lock()
	if _, ok := m.gone[key]; !ok {
		m.gone[key] = m.clock.Now().Add(GoneAfter)
	}
	m.mu.Unlock()
	m.sweep()
}

// sweep removes the series of objects gone for GoneAfter.
func (m *Metrics) sweep() {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, at := range m.gone {
		if now.Before(at) {
			continue
		}
		delete(m.gone, key)
		labels := prometheus.Labels{"namespace": key.namespace, "name": key.name}
		s := m.kinds[key.kind]
		s.duration.Delete(labels)
		s.errors.Delete(labels)
		if key.kind == Rollout {
			m.events.DeletePartialMatch(labels)
		}
		m.notifySuccess.DeletePartialMatch(labels)
		m.notifyError.DeletePartialMatch(labels)
		m.notifySend.DeletePartialMatch(labels)
	}
}

// Recorder counts the events r records on rollouts (rollout_events_total).
// A nil m returns r.
func (m *Metrics) Recorder(r events.EventRecorder) events.EventRecorder {
	if m == nil {
		return r
	}
	return recorder{EventRecorder: r, m: m}
}

type recorder struct {
	events.EventRecorder
	m *Metrics
}

func (r recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
	if ro, ok := regarding.(*v1alpha1.Rollout); ok && reason != "" {
		r.m.events.WithLabelValues(ro.Namespace, ro.Name, eventtype, reason).Inc()
	}
}
