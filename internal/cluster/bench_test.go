package cluster

import (
	"testing"
	"time"
)

// BenchmarkClusterStart measures how long Start takes to return a cluster
// that serves requests, runs its controllers and has Ramp's CRDs
// established, and how long Stop takes. `make bench` prints it; the README
// quotes it.
func BenchmarkClusterStart(b *testing.B) {
	var start, stop time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c, err := Start(b.Context(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		c.Stop()
		start += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(start.Seconds()/float64(b.N), "s/start")
	b.ReportMetric(stop.Seconds()/float64(b.N), "s/stop")
}
