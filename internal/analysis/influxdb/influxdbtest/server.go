// Package influxdbtest is a local HTTP server that speaks the part of
// InfluxDB's v2 HTTP API Ramp calls, as InfluxDB documents it: POST
// /api/v2/query?org=ORG with a Flux query in a JSON body, authenticated by
// "Authorization: Token <token>", answering annotated CSV (#datatype,
// #group, #default rows, then a header and the records), errors as
// {"code", "message"}. It stands in for InfluxDB 2 (Debian ships InfluxDB
// 1.6, which has no Flux).
package influxdbtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rampdev/ramp/internal/analysis/providertest"
)

// Token and Org are what the server accepts.
const (
	Token = "influx-token-3a7d0c9e"
	Org   = "shop-org"
)

// Server is a fake InfluxDB 2.
type Server struct {
	URL string
	// Faults make it misbehave.
	Faults providertest.Faults

	mu      sync.Mutex
	answers map[string][]any
	queries []string
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	s := &Server{answers: map[string][]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/query", s.query)
	srv := httptest.NewServer(s.Faults.Wrap(mux))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Set gives the _value of each record a Flux query answers: float64
// (double), int64 (long), string or bool, all of one type.
func (s *Server) Set(flux string, values ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[flux] = values
}

// Queries are the Flux queries answered.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Token "+Token {
		fail(w, http.StatusUnauthorized, "unauthorized", "unauthorized access")
		return
	}
	if r.URL.Query().Get("org") != Org {
		fail(w, http.StatusNotFound, "not found", fmt.Sprintf("organization name %q not found", r.URL.Query().Get("org")))
		return
	}
	var body struct {
		Query string `json:"query"`
		Type  string `json:"type"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Query == "" {
		fail(w, http.StatusBadRequest, "invalid", "failed to decode request body")
		return
	}
	s.mu.Lock()
	values, ok := s.answers[body.Query]
	if ok {
		s.queries = append(s.queries, body.Query)
	}
	s.mu.Unlock()
	if !ok {
		fail(w, http.StatusBadRequest, "invalid", "compilation failed: error at @1:1-1:5: undefined identifier")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	if len(values) == 0 {
		// An empty result: no tables at all.
		_, _ = w.Write([]byte("\r\n"))
		return
	}
	kind := "double"
	switch values[0].(type) {
	case int64:
		kind = "long"
	case string:
		kind = "string"
	case bool:
		kind = "boolean"
	}
	var b strings.Builder
	b.WriteString("#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339," + kind + ",string,string\r\n")
	b.WriteString("#group,false,false,true,true,false,false,true,true\r\n")
	b.WriteString("#default,_result,,,,,,,\r\n")
	b.WriteString(",result,table,_start,_stop,_time,_value,_field,_measurement\r\n")
	for i, v := range values {
		fmt.Fprintf(&b, ",,0,2026-12-02T11:45:00Z,2026-12-02T12:00:00Z,2026-12-02T11:%02d:00Z,%v,errors,http\r\n", 45+i%15, v)
	}
	b.WriteString("\r\n")
	_, _ = w.Write([]byte(b.String()))
}
