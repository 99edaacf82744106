package localproc_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampdev/ramp/internal/localproc"
)

func TestWaitReady(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := localproc.WaitReady(t.Context(), srv.URL, nil, time.Millisecond, time.Minute); err != nil || calls.Load() != 3 {
		t.Errorf("ready on the third answer: %v after %d", err, calls.Load())
	}

	exited := make(chan struct{})
	close(exited)
	addr, err := localproc.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	if err := localproc.WaitReady(t.Context(), "http://"+addr, exited, time.Millisecond, time.Minute); !errors.Is(err, localproc.ErrExited) {
		t.Errorf("a process that exited: %v", err)
	}
	if err := localproc.WaitReady(t.Context(), "http://"+addr, nil, time.Millisecond, 10*time.Millisecond); err == nil || !strings.Contains(err.Error(), "not ready after 10ms") {
		t.Errorf("never ready: %v", err)
	}
}
