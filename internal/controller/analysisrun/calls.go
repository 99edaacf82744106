package analysisrun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// Provider calls run off the reconcile workers: a KPI source that is slow
// or never answers delays only its own run.
const (
	// DefaultMeasureWait is how long a reconcile waits for a provider's
	// answer. Most answer within it, and the measurement is recorded in
	// the same status write; a slower call goes on in the background and
	// its answer requeues the run.
	DefaultMeasureWait = time.Second
	// DefaultMaxCalls bounds the provider calls under way at once; a call
	// beyond it waits for a slot, never a worker.
	DefaultMaxCalls = 256
	// pollWhileWaiting looks at a run whose call is under way again,
	// should its wake-up be lost.
	pollWhileWaiting = 10 * time.Second
)

// callKey names a metric of a run: it has at most one call under way.
type callKey struct {
	run    types.NamespacedName
	metric string
}

// call is one provider call under way or answered.
type call struct {
	uid     types.UID
	started time.Time
	done    chan struct{}
	cancel  context.CancelFunc
	out     analysis.Outcome
	err     error
	// waiters counts the reconciles waiting for the answer (under c.mu):
	// an answer that comes while one waits needs no wake-up.
	waiters int
}

// calls runs provider calls in the background, a bounded number at once,
// and wakes the run up when one answers.
type calls struct {
	wait time.Duration
	// limit ends a call that never answers, whatever the metric's own
	// timeout; the measurement is then an Error that says so.
	limit time.Duration
	slots chan struct{}
	wake  chan event.GenericEvent
	// stop ends pending wake-ups when the controller stops.
	stop <-chan struct{}

	mu sync.Mutex
	m  map[callKey]*call
}

func newCalls(wait time.Duration, max int, limit time.Duration, stop <-chan struct{}) *calls {
	if wait <= 0 {
		wait = DefaultMeasureWait
	}
	if max <= 0 {
		max = DefaultMaxCalls
	}
	if limit <= 0 {
		limit = fetch.DefaultMaxTimeout
	}
	return &calls{wait: wait, limit: limit, slots: make(chan struct{}, max), wake: make(chan event.GenericEvent, 1024), stop: stop, m: map[callKey]*call{}}
}

// overLimit is why a call that went past the controller's limit ended.
type overLimit struct{ limit time.Duration }

func (e overLimit) Error() string {
	return fmt.Sprintf("no answer within %s, the longest this controller waits for a KPI source (its --analysis-max-timeout)", e.limit)
}

// do returns fn's answer for the metric of run: at once when it comes
// within the wait, or from a call started by an earlier reconcile that has
// answered since. ok is false while the call is under way; started is when
// the call began.
func (c *calls) do(ctx context.Context, run *v1alpha1.AnalysisRun, metric string, now time.Time, fn func(context.Context) (analysis.Outcome, error)) (out analysis.Outcome, err error, started time.Time, ok bool) {
	key := callKey{run: types.NamespacedName{Namespace: run.Namespace, Name: run.Name}, metric: metric}
	c.mu.Lock()
	cl, found := c.m[key]
	if found && cl.uid != run.UID {
		cl.cancel()
		found = false
	}
	if !found {
		cl = c.start(key, run, now, fn)
	}
	cl.waiters++
	c.mu.Unlock()

	timer := time.NewTimer(c.wait)
	defer timer.Stop()
	select {
	case <-cl.done:
	case <-timer.C:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cl.waiters--
	select {
	case <-cl.done: // answered, perhaps just now: this reconcile records it
	default:
		return analysis.Outcome{}, nil, cl.started, false
	}
	if c.m[key] == cl {
		delete(c.m, key)
	}
	return cl.out, cl.err, cl.started, true
}

// start runs fn in the background; c.mu is held.
func (c *calls) start(key callKey, run *v1alpha1.AnalysisRun, now time.Time, fn func(context.Context) (analysis.Outcome, error)) *call {
	ctx, cancel := context.WithTimeoutCause(context.Background(), c.limit, overLimit{c.limit})
	cl := &call{uid: run.UID, started: now, done: make(chan struct{}), cancel: cancel}
	c.m[key] = cl
	go func() {
		defer cancel()
		select {
		case c.slots <- struct{}{}:
			cl.out, cl.err = fn(ctx)
			<-c.slots
		case <-ctx.Done():
			cl.err = ctx.Err()
		}
		var over overLimit
		if cl.err != nil && errors.As(context.Cause(ctx), &over) {
			cl.err = over
		}
		// The answer and whether a reconcile is there to take it are
		// decided together: a wake-up is sent only when none is, since a
		// wake-up that comes after the answer was recorded reconciles the
		// run from a cache that may not show it yet.
		c.mu.Lock()
		close(cl.done)
		waited := cl.waiters > 0
		c.mu.Unlock()
		if waited {
			return
		}
		// Nobody waited: bring the run back to record the answer.
		stub := &v1alpha1.AnalysisRun{}
		stub.Namespace, stub.Name = key.run.Namespace, key.run.Name
		select {
		case c.wake <- event.GenericEvent{Object: stub}:
		case <-c.stop:
		}
	}()
	return cl
}

// forget drops the calls of a run (finished, terminated or deleted) and
// cancels those under way.
func (c *calls) forget(run types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, cl := range c.m {
		if key.run == run {
			cl.cancel()
			delete(c.m, key)
		}
	}
}

// forgetMetric drops the call of one metric (its run is terminating).
func (c *calls) forgetMetric(run types.NamespacedName, metric string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := callKey{run: run, metric: metric}
	if cl, ok := c.m[key]; ok {
		cl.cancel()
		delete(c.m, key)
	}
}

// len is how many calls are kept (under way, or answered and not yet
// recorded).
func (c *calls) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
