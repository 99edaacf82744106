package providertest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Faults puts a Fault in front of a vendor's handler: a test server built
// on it misbehaves as the suite asks. The zero value passes every request
// on.
type Faults struct {
	// Unauthorized is the status and body of a refused request (default
	// 401 and a JSON error).
	UnauthorizedStatus int
	UnauthorizedBody   string
	// HugeBytes is how much an answer grows by (default 2 MiB).
	HugeBytes int

	mu    sync.Mutex
	fault Fault
}

// Set is the suite's Fault function.
func (f *Faults) Set(fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fault
}

// Wrap serves next unless a fault is set.
func (f *Faults) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		fault := f.fault
		f.mu.Unlock()
		// The body is read first: only then does the server notice a
		// client that gives up.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		switch fault {
		case Unauthorized:
			status, text := f.UnauthorizedStatus, f.UnauthorizedBody
			if status == 0 {
				status = http.StatusUnauthorized
			}
			if text == "" {
				text = `{"error": "unauthorized"}`
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, text)
		case ServerError:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error": "service unavailable"}`)
		case Hang:
			<-r.Context().Done()
		case Huge:
			n := f.HugeBytes
			if n == 0 {
				n = 2 << 20
			}
			// Whitespace before the answer: still valid JSON, too long.
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, strings.Repeat(" ", n))
			next.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
