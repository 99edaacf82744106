package chaos_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampdev/ramp/internal/controllerprocess"
)

// reconcileCounter samples the running controller's
// controller_runtime_reconcile_total every half second and adds up, over
// its incarnations, the last figure each showed: a lower bound on the
// reconciles made (those after an incarnation's last sample are lost with
// it).
type reconcileCounter struct {
	current atomic.Pointer[controllerprocess.Process]
	stop    chan struct{}
	done    chan struct{}

	mu   sync.Mutex
	last map[*controllerprocess.Process]float64
}

func countReconciles() *reconcileCounter {
	r := &reconcileCounter{stop: make(chan struct{}), done: make(chan struct{}), last: map[*controllerprocess.Process]float64{}}
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			if p := r.current.Load(); p != nil {
				if n, ok := reconciles(p.Metrics); ok {
					r.mu.Lock()
					r.last[p] = max(r.last[p], n)
					r.mu.Unlock()
				}
			}
		}
	}()
	return r
}

// follow makes p the process sampled.
func (r *reconcileCounter) follow(p *controllerprocess.Process) { r.current.Store(p) }

// Total stops sampling and returns the sum.
func (r *reconcileCounter) Total() int64 {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	total := 0.0
	for _, n := range r.last {
		total += n
	}
	return int64(total)
}

// reconciles reads the sum of controller_runtime_reconcile_total from a
// metrics endpoint.
func reconciles(addr string) (float64, bool) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "controller_runtime_reconcile_total{") {
			continue
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			sum, found = sum+v, true
		}
	}
	return sum, found
}
