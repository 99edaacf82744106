package app

import (
	"context"
	"io"
	"net/http"
	"time"

	"k8s.io/client-go/rest"
)

// Defaults of the client and concurrency options: a fleet of 1,000
// rollouts needs no tuning.
const (
	// DefaultQPS turns client-side throttling off: the API server's
	// Priority and Fairness decides, as with controller-runtime's own
	// configuration loader. client-go's default of 5 requests a second
	// held a release of 100 rollouts back by minutes.
	DefaultQPS = -1
	// DefaultBurst goes with DefaultQPS (ignored while QPS is negative).
	DefaultBurst = -1
	// DefaultAPITimeout bounds one API request (watches excepted).
	DefaultAPITimeout = 30 * time.Second
	// DefaultRolloutWorkers is how many rollouts are reconciled at once.
	DefaultRolloutWorkers = 10
	// DefaultAnalysisWorkers is how many AnalysisRuns are reconciled at
	// once.
	DefaultAnalysisWorkers = 30
)

// ClientConfig is cfg with the options' client settings: QPS and Burst
// (zero means the defaults; negative QPS means no client-side limit), and
// a time limit on every request but watches. Every client the manager
// makes (cached and direct reads, writes, events, leader election) comes
// from it.
func ClientConfig(cfg *rest.Config, opts Options) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.QPS, out.Burst = opts.QPS, opts.Burst
	if out.QPS == 0 {
		out.QPS, out.Burst = DefaultQPS, DefaultBurst
	}
	if out.Burst == 0 && out.QPS > 0 {
		out.Burst = int(2 * out.QPS)
	}
	timeout := opts.APITimeout
	if timeout == 0 {
		timeout = DefaultAPITimeout
	}
	if timeout > 0 {
		out.Wrap(func(rt http.RoundTripper) http.RoundTripper { return requestTimeout{next: rt, timeout: timeout} })
	}
	return out
}

// requestTimeout ends a request that takes longer than timeout. Watches
// are long by design and keep no limit; rest.Config.Timeout would cut
// them, since it is the whole http.Client's.
type requestTimeout struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t requestTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Query().Get("watch") == "true" {
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	// The limit covers reading the body too; closing it releases the timer.
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
