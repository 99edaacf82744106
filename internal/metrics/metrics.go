package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// GoneAfter is how long a deleted object's event-driven series stay: longer
// than Prometheus' default scrape interval (60s), so that the last values
// are scraped.
const GoneAfter = 65 * time.Second

// scrapeTimeout bounds the cache reads of one scrape (a cache that has not
// synced yet blocks a List).
const scrapeTimeout = 10 * time.Second

// reconcileBuckets are Argo Rollouts' buckets for *_reconcile (seconds).
var reconcileBuckets = []float64{0.01, 0.15, 0.25, 0.5, 1}

// Options configure Metrics.
type Options struct {
	// Reader lists rollouts, AnalysisRuns, Experiments and templates at
	// scrape time: the manager's cache.
	Reader client.Reader
	// ClusterTemplates lists ClusterAnalysisTemplates too. It is false for
	// a controller restricted to one namespace, whose Role may not.
	ClusterTemplates bool
	// Clock times reconciles and the removal of deleted objects' series;
	// nil is the real clock.
	Clock clock.PassiveClock
	// Version labels ramp_controller_info.
	Version string
	// Log reports a scrape's failed cache reads.
	Log logr.Logger
}

// Metrics is the collector of one controller manager.
type Metrics struct {
	opts  Options
	clock clock.PassiveClock
	kinds map[Kind]*kindSeries
	// events is rollout_events_total.
	events *prometheus.CounterVec
	// notifications are notification_send_success, notification_send_error
	// and notification_send.
	notifySuccess, notifyError *prometheus.CounterVec
	notifySend                 *prometheus.HistogramVec

	mu sync.Mutex
	// gone holds the objects a reconciler found deleted, with when their
	// series go.
	gone map[goneKey]time.Time
}

var _ prometheus.Collector = (*Metrics)(nil)

// New builds the metrics of one manager.
func New(opts Options) *Metrics {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	m := &Metrics{
		opts:  opts,
		clock: clk,
		kinds: map[Kind]*kindSeries{},
		gone:  map[goneKey]time.Time{},
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rollout_events_total",
			Help: "Kubernetes events recorded on rollouts, by type and reason.",
		}, []string{"namespace", "name", "type", "reason"}),
		notifySuccess: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notification_send_success",
			Help: "Notifications delivered, by the object and the event (type, reason) that triggered them.",
		}, []string{"namespace", "name", "type", "reason"}),
		notifyError: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notification_send_error",
			Help: "Notification deliveries that failed (each attempt), by the object and the event that triggered them.",
		}, []string{"namespace", "name", "type", "reason"}),
		notifySend: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notification_send",
			Help:    "How long one notification delivery took, in seconds.",
			Buckets: reconcileBuckets,
		}, []string{"namespace", "name"}),
	}
	for _, k := range []Kind{Rollout, AnalysisRun, Experiment} {
		m.kinds[k] = newKindSeries(k)
	}
	return m
}

// Describe sends every series' description.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range stateDescs {
		ch <- d
	}
	for _, k := range m.kinds {
		k.duration.Describe(ch)
		k.errors.Describe(ch)
	}
	m.events.Describe(ch)
	m.notifySuccess.Describe(ch)
	m.notifyError.Describe(ch)
	m.notifySend.Describe(ch)
}

// Collect sends the scrape-time gauges, read from the cache, and the
// event-driven series, after removing those of objects deleted more than
// GoneAfter ago.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.sweep()
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	m.collectState(ctx, ch)
	for _, k := range m.kinds {
		k.duration.Collect(ch)
		k.errors.Collect(ch)
	}
	m.events.Collect(ch)
	m.notifySuccess.Collect(ch)
	m.notifyError.Collect(ch)
	m.notifySend.Collect(ch)
}

// NotificationSent counts one notification delivery (notify.Options.Sent).
// A nil m counts nothing.
func (m *Metrics) NotificationSent(_, namespace, name, eventType, reason string, err error, took time.Duration) {
	if m == nil {
		return
	}
	if err != nil {
		m.notifyError.WithLabelValues(namespace, name, eventType, reason).Inc()
	} else {
		m.notifySuccess.WithLabelValues(namespace, name, eventType, reason).Inc()
	}
	m.notifySend.WithLabelValues(namespace, name).Observe(took.Seconds())
}

// Registry is where Start registers the metrics: controller-runtime's
// metrics.Registry in the controller.
type Registry interface {
	Register(prometheus.Collector) error
	Unregister(prometheus.Collector) bool
}

// Runnable registers m with reg while the manager runs, and removes it when
// the manager stops (a test process runs several managers one after the
// other). If another manager of this process has registered its metrics,
// that one is served and m is not.
func (m *Metrics) Runnable(reg Registry) *Registration {
	return &Registration{m: m, reg: reg}
}

// Registration is a manager Runnable; see Metrics.Runnable.
type Registration struct {
	m   *Metrics
	reg Registry
}

// Start registers the metrics until ctx ends.
func (r *Registration) Start(ctx context.Context) error {
	if err := r.reg.Register(r.m); err != nil {
		if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
			r.m.opts.Log.Info("another controller in this process serves the Argo-compatible metrics")
			<-ctx.Done()
			return nil
		}
		return err
	}
	<-ctx.Done()
	r.reg.Unregister(r.m)
	return nil
}

// NeedLeaderElection is true: only the acting replica exports the
// per-object series, so that sums over replicas do not count a rollout
// twice. A standby serves controller-runtime's own metrics only.
func (r *Registration) NeedLeaderElection() bool { return true }
