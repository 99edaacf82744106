// Package skywalkingtest is a local HTTP server that speaks the part of
// Apache SkyWalking OAP's GraphQL API Ramp calls: POST /graphql with
// {query, variables}, answering {"data": ...} or {"errors": [{message}]},
// as a GraphQL server does. The test gives the data each query answers;
// the server checks that the query declares $duration and that the
// variables carry one in SkyWalking's minute format.
package skywalkingtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/rampdev/ramp/internal/analysis/providertest"
)

// Server is a fake SkyWalking OAP.
type Server struct {
	URL string
	// Faults make it misbehave.
	Faults providertest.Faults

	mu        sync.Mutex
	answers   map[string]any
	durations []Duration
}

// Duration is the $duration a request carried.
type Duration struct {
	Start, End, Step string
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	s := &Server{answers: map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /graphql", s.graphql)
	srv := httptest.NewServer(s.Faults.Wrap(mux))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Answer gives the data a query answers (nil: "data": null).
func (s *Server) Answer(query string, data any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[query] = data
}

// Durations are the $duration of each request.
func (s *Server) Durations() []Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Duration(nil), s.durations...)
}

var declaresDuration = regexp.MustCompile(`\$duration\s*:\s*Duration!`)

func graphqlError(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": nil, "errors": []map[string]string{{"message": msg}}})
}

func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query     string `json:"query"`
		Variables struct {
			Duration Duration `json:"duration"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "not a GraphQL request", http.StatusBadRequest)
		return
	}
	if !declaresDuration.MatchString(req.Query) {
		graphqlError(w, "Variable 'duration' is not declared")
		return
	}
	d := req.Variables.Duration
	start, err1 := time.Parse("2006-01-02 1504", d.Start)
	end, err2 := time.Parse("2006-01-02 1504", d.End)
	if err1 != nil || err2 != nil || d.Step != "MINUTE" || !start.Before(end) {
		graphqlError(w, "Variable 'duration' has an invalid value")
		return
	}
	s.mu.Lock()
	s.durations = append(s.durations, d)
	data, ok := s.answers[req.Query]
	s.mu.Unlock()
	if !ok {
		graphqlError(w, "Validation error of type FieldUndefined")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
}
