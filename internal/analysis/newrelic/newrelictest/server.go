// Package newrelictest is a local HTTP server that speaks the part of New
// Relic's NerdGraph API Ramp calls, as New Relic documents it: POST
// /graphql with {query, variables}, authenticated by the Api-Key header,
// the NRQL of actor.account(id).nrql(query, timeout) answered as
// {"data": {"actor": {"account": {"nrql": {"results": [...]}}}}}, and
// GraphQL errors as {"errors": [{"message"}]}. It stands in for New Relic,
// which tests cannot reach.
package newrelictest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rampdev/ramp/internal/analysis/providertest"
)

// Key and Account are the personal API key and account the server knows.
const (
	Key     = "NRAK-RAMPTEST0123456789ABCDEF"
	Account = 3141592
)

// Server is a fake NerdGraph endpoint.
type Server struct {
	URL string
	// Faults make it misbehave.
	Faults providertest.Faults

	mu        sync.Mutex
	rows      map[string][]map[string]any
	variables []Variables
}

// Variables are what a request asked.
type Variables struct {
	Query     string `json:"query"`
	AccountID int    `json:"accountId"`
	Timeout   int    `json:"timeout"`
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	s := &Server{rows: map[string][]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /graphql", s.graphql)
	srv := httptest.NewServer(s.Faults.Wrap(mux))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/graphql"
	return s
}

// Set gives the rows an NRQL query answers.
func (s *Server) Set(nrql string, rows ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows[nrql] = rows
}

// Requests are the variables of each request.
func (s *Server) Requests() []Variables {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Variables(nil), s.variables...)
}

func graphqlError(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": nil, "errors": []map[string]any{{"message": msg}}})
}

func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Api-Key") != Key {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": "Invalid API key", "extensions": map[string]string{"errorClass": "UNAUTHORIZED"}}}})
		return
	}
	var req struct {
		Query     string    `json:"query"`
		Variables Variables `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "not a GraphQL request", http.StatusBadRequest)
		return
	}
	if !strings.Contains(req.Query, "nrql(query: $query, timeout: $timeout)") || !strings.Contains(req.Query, "account(id: $accountId)") {
		graphqlError(w, "this server answers actor.account.nrql queries only")
		return
	}
	if req.Variables.AccountID != Account {
		graphqlError(w, "Access denied to account")
		return
	}
	s.mu.Lock()
	s.variables = append(s.variables, req.Variables)
	rows, ok := s.rows[req.Variables.Query]
	s.mu.Unlock()
	if !ok {
		graphqlError(w, "NRQL Syntax Error: Error at line 1 position 1")
		return
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"actor": map[string]any{"account": map[string]any{"nrql": map[string]any{"results": rows}}}}})
}
