package providertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
)

// Fault is a way the provider's server misbehaves.
type Fault int

// The faults a server can be told to show.
const (
	// None: the server answers normally.
	None Fault = iota
	// Unauthorized: the credentials are refused (401 or 403).
	Unauthorized
	// ServerError: a 5xx.
	ServerError
	// Hang: the server does not answer until the client gives up.
	Hang
	// Huge: the answer is larger than the provider reads.
	Huge
)

func (f Fault) String() string {
	return [...]string{"none", "unauthorized", "server error", "hang", "huge answer"}[f]
}

// Suite describes a provider and its local server.
type Suite struct {
	// Provider under test.
	Provider analysis.Provider
	// Metric is measured; the server answers it with data for which
	// Passes holds.
	Metric v1alpha1.Metric
	// Run is the AnalysisRun of the requests (nil: an empty run).
	Run *v1alpha1.AnalysisRun
	// Passes is a condition true of the server's normal answer, written as
	// Argo Rollouts' documentation writes them (it checks the result's
	// shape).
	Passes string
	// Text is the value the status shows for the normal answer.
	Text string
	// Fault tells the server to misbehave (None: to stop).
	Fault func(Fault)
	// Secrets must not appear in any message, value or metadata.
	Secrets []string
	// CloseIdle closes the provider's idle connections, so that leftover
	// goroutines are its own.
	CloseIdle func()
}

// Run runs the suite.
func Run(t *testing.T, s Suite) {
	if s.Run == nil {
		s.Run = &v1alpha1.AnalysisRun{}
		s.Run.Name, s.Run.Namespace = "conformance", "default"
	}
	req := analysis.Request{Run: s.Run, Metric: s.Metric}
	measure := func(t *testing.T, ctx context.Context) (analysis.Outcome, error) {
		t.Helper()
		out, err := s.Provider.Measure(ctx, req)
		for out.Running && err == nil {
			// An asynchronous provider: resumed until it ends.
			m := &v1alpha1.Measurement{Metadata: out.Metadata}
			out, err = s.Provider.Resume(ctx, req, m)
		}
		noSecret(t, s.Secrets, out, err)
		return out, err
	}
	t.Run("result", func(t *testing.T) {
		s.Fault(None)
		out, err := measure(t, t.Context())
		if err != nil {
			t.Fatalf("measuring: %v", err)
		}
		if out.Phase == "" {
			c, err := analysis.Compile(s.Passes)
			if err != nil {
				t.Fatal(err)
			}
			ok, err := c.Eval(out.Value)
			if err != nil || !ok {
				t.Errorf("condition %s on %#v: %v, %v", s.Passes, out.Value, ok, err)
			}
		}
		if out.Text != s.Text {
			t.Errorf("the status would show %q, want %q", out.Text, s.Text)
		}
	})
	for _, f := range []Fault{Unauthorized, ServerError, Huge} {
		t.Run("error on "+f.String(), func(t *testing.T) {
			s.Fault(f)
			defer s.Fault(None)
			out, err := measure(t, t.Context())
			if err == nil {
				t.Fatalf("a measurement, not an Error: %+v", out)
			}
			t.Logf("message: %v", err)
			if f == Huge && !strings.Contains(err.Error(), "larger than") {
				t.Errorf("the message does not say the answer was too large: %v", err)
			}
		})
	}
	t.Run("context honoured", func(t *testing.T) {
		s.Fault(Hang)
		defer s.Fault(None)
		// The deadline passes while the server holds the request.
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := measure(t, ctx)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("a cancelled measurement was not an Error")
			}
			if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline exceeded") {
				t.Errorf("the message does not say the deadline passed: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the provider did not return once its context's deadline passed")
		}
	})
	t.Run("no goroutine left behind", func(t *testing.T) {
		s.Fault(None)
		if s.CloseIdle != nil {
			s.CloseIdle()
		}
		// What runs now (the test servers, the other tests' idle
		// connections) is not the provider's.
		before := goleak.IgnoreCurrent()
		for range 5 {
			if _, err := measure(t, t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if s.CloseIdle != nil {
			s.CloseIdle()
		}
		goleak.VerifyNone(t, before)
	})
}

// noSecret fails the test when a secret is in what the provider returned.
func noSecret(t *testing.T, secrets []string, out analysis.Outcome, err error) {
	t.Helper()
	r := analysis.NewRedactor(secrets...)
	texts := []string{out.Text, fmt.Sprintf("%v", out.Value)}
	if err != nil {
		texts = append(texts, err.Error())
	}
	for k, v := range out.Metadata {
		texts = append(texts, k, v)
	}
	for _, s := range texts {
		if r.Contains(s) {
			t.Errorf("a secret in what the provider returned: %q", s)
		}
	}
}

// Judge measures once, as the controller would (an asynchronous provider
// is resumed until it ends), and judges the outcome with the metric's
// success and failure conditions. A provider's error is an Error phase.
func Judge(t *testing.T, p analysis.Provider, req analysis.Request) (analysis.Outcome, v1alpha1.AnalysisPhase, error) {
	t.Helper()
	out, err := p.Measure(t.Context(), req)
	for err == nil && out.Running {
		out, err = p.Resume(t.Context(), req, &v1alpha1.Measurement{Metadata: out.Metadata})
	}
	if err != nil {
		return out, v1alpha1.AnalysisPhaseError, err
	}
	if out.Phase != "" {
		return out, out.Phase, nil
	}
	var conditions [2]*analysis.Condition
	for i, source := range []string{req.Metric.SuccessCondition, req.Metric.FailureCondition} {
		if source == "" {
			continue
		}
		if conditions[i], err = analysis.Compile(source); err != nil {
			t.Fatal(err)
		}
	}
	phase, err := analysis.Judge(out.Value, conditions[0], conditions[1])
	return out, phase, err
}
