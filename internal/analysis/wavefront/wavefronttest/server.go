// Package wavefronttest is a local HTTP server that speaks the part of
// Wavefront's REST API Ramp calls, as its API reference documents it: GET
// /api/v2/chart/api with q, s, e (epoch milliseconds), g, p and the
// boolean options, authenticated by "Authorization: Bearer <token>",
// answering {"timeseries": [{"label", "host", "tags", "data": [[epoch
// seconds, value], ...]}], "warnings": ...}. It stands in for Wavefront,
// which tests cannot reach.
package wavefronttest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/rampdev/ramp/internal/analysis/providertest"
)

// Token is the API token the server accepts.
const Token = "wavefront-token-5f1c9b2e"

// Server is a fake Wavefront cluster.
type Server struct {
	URL string
	// Faults make it misbehave.
	Faults providertest.Faults

	mu       sync.Mutex
	series   map[string][][][2]float64
	warnings string
	queries  []url.Values
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	s := &Server{series: map[string][][][2]float64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/chart/api", s.chart)
	srv := httptest.NewServer(s.Faults.Wrap(mux))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Set gives a query's series, each a list of [epoch seconds, value].
func (s *Server) Set(query string, series ...[][2]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[query] = series
}

// Warn makes answers carry warnings.
func (s *Server) Warn(w string) { s.mu.Lock(); s.warnings = w; s.mu.Unlock() }

// Queries are the query parameters of each request.
func (s *Server) Queries() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.queries...)
}

func (s *Server) chart(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+Token {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": map[string]any{"result": "ERROR", "message": "Unauthorized", "code": 401}})
		return
	}
	q := r.URL.Query()
	if q.Get("q") == "" || q.Get("s") == "" || q.Get("g") != "s" {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": map[string]any{"result": "ERROR", "message": "q, s and g are required", "code": 400}})
		return
	}
	s.mu.Lock()
	s.queries = append(s.queries, q)
	series := s.series[q.Get("q")]
	warnings := s.warnings
	s.mu.Unlock()
	ts := []any{}
	for i, points := range series {
		ts = append(ts, map[string]any{"label": q.Get("q"), "host": "host-" + string(rune('a'+i)), "tags": map[string]string{}, "data": points})
	}
	answer := map[string]any{"query": q.Get("q"), "name": q.Get("q"), "timeseries": ts, "granularity": 1}
	if warnings != "" {
		answer["warnings"] = warnings
	}
	_ = json.NewEncoder(w).Encode(answer)
}
