package demo

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
)

// Image is the demo application's image name; any tag.
const Image = "ramp-demo-app"

// Port is where a demo pod listens.
const Port = 8080

// App is one demo pod's application.
type App struct {
	Version   string
	ErrorRate float64
	Latency   time.Duration

	mux      *http.ServeMux
	requests *prometheus.CounterVec
	duration prometheus.Histogram
}

// AppFor is the demo application of pod, if its first container runs
// the demo image.
func AppFor(pod *corev1.Pod) (*App, bool) {
	if len(pod.Spec.Containers) == 0 {
		return nil, false
	}
	c := pod.Spec.Containers[0]
	name, tag, _ := strings.Cut(c.Image, ":")
	if name != Image && !strings.HasSuffix(name, "/"+Image) {
		return nil, false
	}
	if tag == "" {
		tag = "latest"
	}
	a := &App{Version: tag}
	if tag == "bad" {
		a.ErrorRate = 0.3
	}
	for _, e := range c.Env {
		switch e.Name {
		case "ERROR_RATE":
			if v, err := strconv.ParseFloat(e.Value, 64); err == nil && v >= 0 && v <= 1 {
				a.ErrorRate = v
			}
		case "LATENCY_MS":
			if v, err := strconv.Atoi(e.Value); err == nil && v >= 0 {
				a.Latency = time.Duration(v) * time.Millisecond
			}
		}
	}
	a.init()
	return a, true
}

func (a *App) init() {
	reg := prometheus.NewRegistry()
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests served, by status code."}, []string{"code"})
	a.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Time to answer a request.", Buckets: prometheus.DefBuckets})
	reg.MustRegister(a.requests, a.duration)
	a.mux = http.NewServeMux()
	a.mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.mux.HandleFunc("/", a.serveRoot)
}

func (a *App) serveRoot(w http.ResponseWriter, _ *http.Request) {
	start := time.Now()
	if a.Latency > 0 {
		time.Sleep(a.Latency) // the application's own latency, by design
	}
	code := http.StatusOK
	if rand.Float64() < a.ErrorRate {
		code = http.StatusInternalServerError
	}
	w.WriteHeader(code)
	if code == http.StatusOK {
		fmt.Fprintln(w, a.Version)
	} else {
		fmt.Fprintf(w, "%s: internal error\n", a.Version)
	}
	a.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	a.duration.Observe(time.Since(start).Seconds())
}

// ServeHTTP serves "/" and "/metrics".
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }
