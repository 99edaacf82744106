package cluster

import (
	"net/http"
	"strings"
	"sync"
)

// WriteCounter counts a client's mutating API requests (POST, PUT, PATCH,
// DELETE) per namespace, through its transport. Tests and benchmarks use it
// to show what a controller writes: nothing at rest, a bounded number per
// step.
type WriteCounter struct {
	mu          sync.Mutex
	byNamespace map[string]int
}

// Wrap counts the requests that go through rt. Use it with
// rest.Config.Wrap.
func (w *WriteCounter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			parts := strings.Split(req.URL.Path, "/")
			for i := 0; i+1 < len(parts); i++ {
				if parts[i] == "namespaces" {
					w.mu.Lock()
					if w.byNamespace == nil {
						w.byNamespace = map[string]int{}
					}
					w.byNamespace[parts[i+1]]++
					w.mu.Unlock()
					break
				}
			}
		}
		return rt.RoundTrip(req)
	})
}

// Count is the writes counted in namespace ns.
func (w *WriteCounter) Count(ns string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byNamespace[ns]
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
