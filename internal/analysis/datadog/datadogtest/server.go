// Package datadogtest is a local HTTP server that speaks the part of
// Datadog's public API Ramp calls, as Datadog documents it: the v1 metrics
// query (GET /api/v1/query with query, from and to in Unix seconds) and v2
// scalar queries (POST /api/v2/query/scalar with a scalar_request body,
// from and to in milliseconds), each authenticated by the DD-API-KEY and
// DD-APPLICATION-KEY headers, with Datadog's error bodies
// ({"errors": [...]}). It stands in for Datadog, which tests cannot reach.
package datadogtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Keys the server accepts from the start.
const (
	APIKey = "dd-api-key-0123456789abcdef"
	AppKey = "dd-app-key-fedcba9876543210"
)

// Group is one value of a scalar answer, with its group's tags (none for
// an ungrouped query).
type Group struct {
	Tags  []string
	Value *float64
}

// V is a value for a Group.
func V(f float64) *float64 { return &f }

// Server is a fake Datadog site.
type Server struct {
	URL string

	mu      sync.Mutex
	series  map[string][]*float64
	scalars map[string][]Group
	fail    int
	refuse  bool
	delay   time.Duration
	huge    int
	// Requests are the requests answered: method, path and the query or
	// body.
	requests []Request
}

// Request is a request the server answered.
type Request struct {
	Method, Path string
	Query        map[string][]string
	Body         ScalarRequest
}

// ScalarRequest is the v2 body.
type ScalarRequest struct {
	Data struct {
		Type       string `json:"type"`
		Attributes struct {
			From     int64 `json:"from"`
			To       int64 `json:"to"`
			Formulas []struct {
				Formula string `json:"formula"`
			} `json:"formulas"`
			Queries []struct {
				Aggregator string `json:"aggregator"`
				DataSource string `json:"data_source"`
				Name       string `json:"name"`
				Query      string `json:"query"`
			} `json:"queries"`
		} `json:"attributes"`
	} `json:"data"`
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	s := &Server{series: map[string][]*float64{}, scalars: map[string][]Group{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// SetSeries gives a v1 query's points, oldest first (nil is a null).
func (s *Server) SetSeries(query string, points ...*float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[query] = points
}

// SetScalar gives a v2 answer: for the formula, or for the single query
// without one.
func (s *Server) SetScalar(key string, groups ...Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scalars[key] = groups
}

// Fail makes every request answer status (0: stop).
func (s *Server) Fail(status int) { s.mu.Lock(); s.fail = status; s.mu.Unlock() }

// Refuse makes the server refuse every key (a revoked key) until
// Refuse(false).
func (s *Server) Refuse(refuse bool) { s.mu.Lock(); s.refuse = refuse; s.mu.Unlock() }

// Delay makes every answer wait d, or until the client gives up.
func (s *Server) Delay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Huge makes every answer carry n extra bytes.
func (s *Server) Huge(n int) { s.mu.Lock(); s.huge = n; s.mu.Unlock() }

// Requests are the requests answered, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	s.mu.Lock()
	refuse := s.refuse
	s.mu.Unlock()
	if refuse || r.Header.Get("DD-API-KEY") != APIKey || r.Header.Get("DD-APPLICATION-KEY") != AppKey {
		writeJSON(w, http.StatusForbidden, map[string][]string{"errors": {"Forbidden"}})
		return
	}
	s.mu.Lock()
	fail, delay, huge := s.fail, s.delay, s.huge
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		writeJSON(w, fail, map[string][]string{"errors": {"Internal Server Error"}})
		return
	}
	pad := strings.Repeat(" ", huge)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/query":
		s.v1(w, r, pad)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v2/query/scalar":
		s.v2(w, r, body, pad)
	default:
		writeJSON(w, http.StatusNotFound, map[string][]string{"errors": {"Not found"}})
	}
}

func (s *Server) v1(w http.ResponseWriter, r *http.Request, pad string) {
	q := r.URL.Query()
	from, errF := strconv.ParseInt(q.Get("from"), 10, 64)
	to, errT := strconv.ParseInt(q.Get("to"), 10, 64)
	if q.Get("query") == "" || errF != nil || errT != nil || from >= to || to > 1e11 {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"errors": {"The value provided for parameter 'query' is invalid"}})
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: q})
	points, ok := s.series[q.Get("query")]
	s.mu.Unlock()
	series := []any{}
	if ok {
		list := make([][2]any, 0, len(points))
		step := (to - from) * 1000 / int64(max(len(points), 1))
		for i, p := range points {
			var v any
			if p != nil {
				v = *p
			}
			list = append(list, [2]any{float64(from*1000 + int64(i)*step), v})
		}
		series = append(series, map[string]any{"metric": q.Get("query"), "pointlist": list, "length": len(list)})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "ok", "res_type": "time_series", "query": q.Get("query"),
		"from_date": from * 1000, "to_date": to * 1000, "series": series, "message": pad,
	})
}

func (s *Server) v2(w http.ResponseWriter, r *http.Request, body []byte, pad string) {
	var req ScalarRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Data.Type != "scalar_request" || len(req.Data.Attributes.Queries) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"errors": {"Invalid request body"}})
		return
	}
	a := req.Data.Attributes
	if a.From >= a.To || a.From < 1e12 {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"errors": {"from and to are milliseconds, from before to"}})
		return
	}
	key := a.Queries[0].Query
	if len(a.Formulas) > 0 {
		key = a.Formulas[0].Formula
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Body: req})
	groups := s.scalars[key]
	s.mu.Unlock()
	values := make([]any, 0, len(groups))
	var tags [][]string
	grouped := false
	for _, g := range groups {
		if g.Value != nil {
			values = append(values, *g.Value)
		} else {
			values = append(values, nil)
		}
		tags = append(tags, g.Tags)
		grouped = grouped || len(g.Tags) > 0
	}
	name := "query1"
	if len(a.Formulas) == 0 {
		name = a.Queries[0].Name
	}
	columns := []any{map[string]any{"name": name, "type": "number", "values": values, "meta": map[string]any{"unit": nil}}}
	if grouped {
		columns = append(columns, map[string]any{"name": "group", "type": "group", "values": tags})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": map[string]any{"type": "scalar_response", "attributes": map[string]any{"columns": columns}},
		"meta": map[string]any{"pad": pad},
	})
}
