// Package kayentatest is a local HTTP server that speaks the part of
// Spinnaker Kayenta's REST API Ramp calls, as Kayenta documents it: GET
// /canaryConfig (the configurations of an application), POST
// /canary/{configId} with the scopes and thresholds (answering
// {"canaryExecutionId"}), and GET /canary/{executionId} ({"complete",
// "result": {"judgeResult": {"score": {"score"}}}}), the judgement
// completing after a number of looks the test sets. It stands in for
// Kayenta, which needs Spinnaker's storage and a metrics store.
package kayentatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/rampdev/ramp/internal/analysis/providertest"
)

// Server is a fake Kayenta.
type Server struct {
	URL string
	// Faults make it misbehave.
	Faults providertest.Faults

	mu         sync.Mutex
	configs    map[string]string // name → id, for application "shop"
	score      float64
	looks      int
	executions map[string]int // looks left
	started    []Started
}

// Started is a judgement a request started.
type Started struct {
	ConfigID string
	Query    url.Values
	Body     struct {
		Scopes map[string]struct {
			ControlScope, ExperimentScope struct {
				Scope, Location, Start, End string
				Step                        int64
			}
		} `json:"scopes"`
		Thresholds struct{ Pass, Marginal int64 } `json:"thresholds"`
	}
}

// Start runs a server whose application "shop" has the configuration
// "shop-canary", until the test ends.
func Start(t testing.TB) *Server {
	s := &Server{configs: map[string]string{"shop-canary": "8f2c-shop-canary"}, score: 100, executions: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /canaryConfig", s.list)
	mux.HandleFunc("POST /canary/{config}", s.start)
	mux.HandleFunc("GET /canary/{execution}", s.look)
	srv := httptest.NewServer(s.Faults.Wrap(mux))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Judge sets the score of the judgements started from now on, and how
// many looks each takes to complete (0: complete at the first).
func (s *Server) Judge(score float64, looks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.score, s.looks = score, looks
}

// Started are the judgements started, in order.
func (s *Server) Started() []Started {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Started(nil), s.started...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{}
	if r.URL.Query().Get("application") == "shop" {
		s.mu.Lock()
		for name, id := range s.configs {
			out = append(out, map[string]any{"id": id, "name": name, "applications": []string{"shop"}, "updatedTimestamp": 1796212800000})
		}
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	st := Started{ConfigID: r.PathValue("config"), Query: r.URL.Query()}
	if err := json.NewDecoder(r.Body).Decode(&st.Body); err != nil || len(st.Body.Scopes) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request", "message": "scopes are required"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	known := false
	for _, id := range s.configs {
		known = known || id == st.ConfigID
	}
	if !known {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not Found", "message": "No canary config with id " + st.ConfigID})
		return
	}
	s.started = append(s.started, st)
	id := fmt.Sprintf("01HEXEC%04d", len(s.started))
	s.executions[id] = s.looks
	s.executions[id+"/score"] = int(s.score * 100)
	writeJSON(w, http.StatusOK, map[string]string{"canaryExecutionId": id})
}

func (s *Server) look(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("execution")
	s.mu.Lock()
	left, ok := s.executions[id]
	score := float64(s.executions[id+"/score"]) / 100
	if ok && left > 0 {
		s.executions[id] = left - 1
	}
	s.mu.Unlock()
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not Found", "message": "No canary execution " + id})
	case left > 0:
		writeJSON(w, http.StatusOK, map[string]any{"complete": false, "status": "running"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"complete": true, "status": "succeeded",
			"result": map[string]any{"judgeResult": map[string]any{"score": map[string]any{"score": score, "classification": "Pass"}}}})
	}
}
