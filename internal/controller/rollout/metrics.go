package rollout

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// updateDuration observes each update's length when it ends, labelled with
// how it ended (status.duration.completionStatus). An update whose end is
// recorded but whose status write fails is observed again on the retry.
var updateDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "ramp_rollout_update_duration_seconds",
	Help:    "How long rollout updates took, from the new template to their end, by completion status.",
	Buckets: []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400},
}, []string{"completion_status"})

var registerMetrics = sync.OnceFunc(func() {
	metrics.Registry.MustRegister(updateDuration)
})
