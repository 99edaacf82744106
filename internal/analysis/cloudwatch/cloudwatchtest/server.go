// Package cloudwatchtest is a local HTTP server that speaks the part of
// Amazon CloudWatch's API Ramp calls, GetMetricData, in the protocol
// aws-sdk-go-v2's client uses for it (Smithy RPC v2 CBOR: POST
// /service/GraniteServiceVersion20100801/operation/GetMetricData, CBOR
// bodies, errors as {__type, message}), with NextToken paging, so tests
// drive the real client. It checks that requests are signed (SigV4) by an
// access key it knows, and carry that key's session token. It stands in for
// AWS, which tests cannot reach.
package cloudwatchtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/fxamacker/cbor/v2"
)

// Region is the region the server answers for.
const Region = "us-west-2"

// Operation is the path of GetMetricData.
const Operation = "/service/GraniteServiceVersion20100801/operation/GetMetricData"

// Server is one fake region of CloudWatch.
type Server struct {
	URL string
	srv *httptest.Server

	mu sync.Mutex
	// keys are the access keys requests may be signed with, and their
	// session tokens ("" for none).
	keys    map[string]string
	series  map[string][]float64
	exprs   map[string][]float64
	page    int
	fail    *failure
	delay   time.Duration
	huge    int
	calls   int
	queries [][]Query
	signers []string
}

type failure struct {
	status        int
	code, message string
}

// AccessKey and SecretKey are the static credentials a server accepts
// from the start.
const (
	AccessKey = "AKIDRAMPCLOUDWATCH"
	SecretKey = "cloudwatch-secret-key"
)

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	s := New()
	t.Cleanup(s.Close)
	return s
}

// New runs a server until Close.
func New() *Server {
	s := &Server{keys: map[string]string{AccessKey: ""}, series: map[string][]float64{}, exprs: map[string][]float64{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Config is the AWS configuration of a client of the server, signing
// with AccessKey.
func (s *Server) Config(context.Context) (aws.Config, error) {
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	}, nil
}

// AllowKey lets requests be signed by accessKey with sessionToken.
func (s *Server) AllowKey(accessKey, sessionToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[accessKey] = sessionToken
}

// Key names a metric: namespace, name and dimensions ("Name=Value").
func Key(namespace, metric string, dimensions ...string) string {
	d := slices.Clone(dimensions)
	sort.Strings(d)
	return namespace + "|" + metric + "|" + strings.Join(d, ",")
}

// Set gives a metric's datapoints, newest first; every statistic of it
// answers them.
func (s *Server) Set(key string, values ...float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[key] = values
}

// SetExpression gives the datapoints a metric math expression answers.
func (s *Server) SetExpression(expression string, values ...float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exprs[expression] = values
}

// PageSize makes each answer hold at most n datapoints (0: all), the rest
// behind a NextToken.
func (s *Server) PageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.page = n
}

// Fail makes every call answer status with an error of that code until
// Fail(0, "", "").
func (s *Server) Fail(status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		s.fail = nil
		return
	}
	s.fail = &failure{status, code, message}
}

// Delay makes every answer wait d (or until the client gives up).
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Huge makes every answer carry n extra bytes of labels.
func (s *Server) Huge(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.huge = n
}

// Calls counts the GetMetricData calls answered (paging counts each page).
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Queries are the queries of each call, in order.
func (s *Server) Queries() [][]Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// Signers are the access keys of each call, in order.
func (s *Server) Signers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.signers)
}

// Request is GetMetricData's input.
type Request struct {
	MetricDataQueries []Query   `cbor:"MetricDataQueries"`
	StartTime         time.Time `cbor:"StartTime"`
	EndTime           time.Time `cbor:"EndTime"`
	NextToken         string    `cbor:"NextToken,omitempty"`
	ScanBy            string    `cbor:"ScanBy,omitempty"`
	MaxDatapoints     int       `cbor:"MaxDatapoints,omitempty"`
}

// Query is one MetricDataQuery.
type Query struct {
	ID         string      `cbor:"Id"`
	Expression string      `cbor:"Expression,omitempty"`
	Label      string      `cbor:"Label,omitempty"`
	MetricStat *MetricStat `cbor:"MetricStat,omitempty"`
	Period     int         `cbor:"Period,omitempty"`
	ReturnData *bool       `cbor:"ReturnData,omitempty"`
}

// MetricStat is a metric, a period and a statistic.
type MetricStat struct {
	Metric Metric `cbor:"Metric"`
	Period int    `cbor:"Period"`
	Stat   string `cbor:"Stat"`
	Unit   string `cbor:"Unit,omitempty"`
}

// Metric names a metric.
type Metric struct {
	Namespace  string      `cbor:"Namespace"`
	MetricName string      `cbor:"MetricName"`
	Dimensions []Dimension `cbor:"Dimensions,omitempty"`
}

// Dimension is one dimension of a metric.
type Dimension struct {
	Name  string `cbor:"Name"`
	Value string `cbor:"Value"`
}

type response struct {
	MetricDataResults []result  `cbor:"MetricDataResults"`
	NextToken         string    `cbor:"NextToken,omitempty"`
	Messages          []message `cbor:"Messages,omitempty"`
}

type result struct {
	ID         string      `cbor:"Id"`
	Label      string      `cbor:"Label"`
	Timestamps []time.Time `cbor:"Timestamps"`
	Values     []float64   `cbor:"Values"`
	StatusCode string      `cbor:"StatusCode"`
}

type message struct {
	Code  string `cbor:"Code"`
	Value string `cbor:"Value"`
}

var enc = func() cbor.EncMode {
	m, err := cbor.EncOptions{Time: cbor.TimeUnixDynamic, TimeTag: cbor.EncTagRequired}.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// credentialRE reads the access key of a SigV4 Authorization header.
var credentialRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != Operation {
		s.error(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.Method+" "+r.URL.Path)
		return
	}
	if r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || r.Header.Get("Content-Type") != "application/cbor" {
		s.error(w, http.StatusBadRequest, "SerializationException", "expected an rpc-v2-cbor request")
		return
	}
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	s.mu.Lock()
	token, known := "", false
	if m != nil {
		token, known = s.keys[m[1]]
	}
	fail, delay, huge, page := s.fail, s.delay, s.huge, s.page
	s.mu.Unlock()
	switch {
	case m == nil:
		s.error(w, http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
		return
	case !known || m[2] != Region || m[3] != "monitoring":
		s.error(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	case r.Header.Get("X-Amz-Security-Token") != token:
		s.error(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	// The body is read first: only then does the server notice a client
	// that gives up.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fail != nil {
		s.error(w, fail.status, fail.code, fail.message)
		return
	}
	var req Request
	if err := cbor.Unmarshal(body, &req); err != nil {
		s.error(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if req.StartTime.IsZero() || req.EndTime.IsZero() || !req.StartTime.Before(req.EndTime) {
		s.error(w, http.StatusBadRequest, "InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime.")
		return
	}
	s.mu.Lock()
	s.calls++
	s.queries = append(s.queries, req.MetricDataQueries)
	s.signers = append(s.signers, m[1])
	s.mu.Unlock()
	results, msg := s.answer(req)
	if msg != "" {
		s.error(w, http.StatusBadRequest, "InvalidParameterValue", msg)
		return
	}
	out := response{MetricDataResults: results}
	out.MetricDataResults, out.NextToken = paginate(results, req.NextToken, page)
	if huge > 0 && len(out.MetricDataResults) > 0 {
		out.MetricDataResults[0].Label = strings.Repeat("x", huge)
	}
	data, err := enc.Marshal(out)
	if err != nil {
		s.error(w, http.StatusInternalServerError, "InternalServiceError", err.Error())
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Requestid", "ramp-test-request")
	_, _ = io.Copy(w, bytes.NewReader(data))
}

// answer computes every query's full result; "" or why the request is
// invalid.
func (s *Server) answer(req Request) ([]result, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(req.MetricDataQueries) == 0 {
		return nil, "The parameter MetricDataQueries is required."
	}
	var out []result
	for _, q := range req.MetricDataQueries {
		var values []float64
		period := q.Period
		switch {
		case q.MetricStat != nil:
			if q.MetricStat.Period <= 0 {
				return nil, fmt.Sprintf("The value 0 for parameter MetricDataQueries.member.%s.MetricStat.Period is invalid.", q.ID)
			}
			var dims []string
			for _, d := range q.MetricStat.Metric.Dimensions {
				dims = append(dims, d.Name+"="+d.Value)
			}
			values = s.series[Key(q.MetricStat.Metric.Namespace, q.MetricStat.Metric.MetricName, dims...)]
			period = q.MetricStat.Period
		case q.Expression != "":
			values = s.exprs[q.Expression]
		default:
			return nil, "Each query must have MetricStat or Expression."
		}
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		if period <= 0 {
			period = 60
		}
		label := q.Label
		if label == "" {
			label = q.ID
		}
		r := result{ID: q.ID, Label: label, Values: []float64{}, Timestamps: []time.Time{}, StatusCode: "Complete"}
		for i, v := range values {
			at := req.EndTime.Truncate(time.Minute).Add(-time.Duration(i*period) * time.Second)
			if at.Before(req.StartTime) {
				break
			}
			r.Values = append(r.Values, v)
			r.Timestamps = append(r.Timestamps, at.UTC())
		}
		out = append(out, r)
	}
	return out, ""
}

// paginate cuts results into pages of at most size datapoints; the token
// is the number of datapoints already sent. A query without datapoints is
// on the first page.
func paginate(results []result, token string, size int) ([]result, string) {
	if size <= 0 {
		return results, ""
	}
	skip, _ := strconv.Atoi(token)
	var page []result
	seen, n := 0, 0
	for _, r := range results {
		if len(r.Values) == 0 {
			if skip == 0 {
				page = append(page, r)
			}
			continue
		}
		part := result{ID: r.ID, Label: r.Label, StatusCode: r.StatusCode, Values: []float64{}, Timestamps: []time.Time{}}
		for i := range r.Values {
			if seen < skip {
				seen++
				continue
			}
			if n == size {
				if len(part.Values) > 0 {
					page = append(page, part)
				}
				return page, strconv.Itoa(skip + n)
			}
			part.Values = append(part.Values, r.Values[i])
			part.Timestamps = append(part.Timestamps, r.Timestamps[i])
			n++
		}
		if len(part.Values) > 0 {
			page = append(page, part)
		}
	}
	return page, ""
}

func (s *Server) error(w http.ResponseWriter, status int, code, msg string) {
	data, _ := enc.Marshal(map[string]string{"__type": "com.amazonaws.cloudwatch#" + code, "message": msg})
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Requestid", "ramp-test-request")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
