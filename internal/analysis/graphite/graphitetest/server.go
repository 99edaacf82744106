// Package graphitetest is a local HTTP server that speaks Graphite's render
// API as Graphite documents it: GET /render with target, from, until and
// format=json, answering [{"target": ..., "datapoints": [[value,
// timestamp], ...]}] with null for a missing value. It stands in for a
// Graphite server (Debian's graphite-web needs a WSGI server and Carbon;
// see docs/analysis.md).
package graphitetest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rampdev/ramp/internal/analysis/providertest"
)

// Server is a fake Graphite.
type Server struct {
	URL string
	// Faults make it misbehave.
	Faults providertest.Faults

	mu      sync.Mutex
	series  map[string][]any
	queries []url.Values
}

// Start runs a server, its API under prefix (such as "" or "/graphite"),
// until the test ends.
func Start(t testing.TB, prefix string) *Server {
	s := &Server{series: map[string][]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/render", s.render)
	srv := httptest.NewServer(s.Faults.Wrap(mux))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + prefix
	return s
}

// Set gives a target's values, oldest first: a float64, nil (null), or a
// numeric string as some Graphite versions send.
func (s *Server) Set(target string, values ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[target] = values
}

// Queries are the query parameters of each render request.
func (s *Server) Queries() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.queries...)
}

func (s *Server) render(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("format") != "json" {
		http.Error(w, "this server answers format=json only", http.StatusBadRequest)
		return
	}
	if len(q["target"]) == 0 {
		http.Error(w, "no target", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.queries = append(s.queries, q)
	out := []any{}
	for _, target := range q["target"] {
		values, ok := s.series[target]
		if !ok {
			continue
		}
		points := make([][2]any, len(values))
		for i, v := range values {
			points[i] = [2]any{v, 1796212800 - 60*(len(values)-1-i)}
		}
		out = append(out, map[string]any{"target": target, "tags": map[string]string{"name": strings.SplitN(target, "(", 2)[0]}, "datapoints": points})
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
