package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"time"

	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/operate"
)

// Options are what the root command is built with; tests set a clock and
// writers.
type Options struct {
	// Out and Err are the command's output streams (stdout and stderr if
	// nil).
	Out, Err io.Writer
	// Clock tells ages and time left; the real clock if nil.
	Clock clock.PassiveClock
	// Config overrides the kubeconfig flags (tests point it at their
	// cluster).
	Config genericclioptions.RESTClientGetter
	// WrapTransport wraps the API client's transport (tests record the
	// requests).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// env is what every command shares: the kubeconfig flags, the output and
// the client built from them.
type env struct {
	flags   *genericclioptions.ConfigFlags
	getter  genericclioptions.RESTClientGetter
	out     io.Writer
	errOut  io.Writer
	clock   clock.PassiveClock
	noColor bool
	cl      client.WithWatch
	wrap    func(http.RoundTripper) http.RoundTripper
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// client is a client of the cluster the flags name; it speaks JSON, which
// every API server (and CRD) serves.
func (e *env) client() (client.WithWatch, error) {
	if e.cl != nil {
		return e.cl, nil
	}
	cfg, err := e.getter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.ContentType, cfg.AcceptContentTypes = "application/json", "application/json"
	if e.wrap != nil {
		cfg.Wrap(e.wrap)
	}
	e.cl, err = client.NewWithWatch(cfg, client.Options{Scheme: scheme()})
	return e.cl, err
}

// clientIn is the client and the namespace the flags name.
func (e *env) clientIn() (client.WithWatch, string, error) {
	cl, err := e.client()
	if err != nil {
		return nil, "", err
	}
	ns, err := e.namespace()
	return cl, ns, err
}

// analysisRun reads an AnalysisRun, with an error that names it.
func (e *env) analysisRun(ctx context.Context, name string) (*v1alpha1.AnalysisRun, error) {
	cl, ns, err := e.clientIn()
	if err != nil {
		return nil, err
	}
	run := &v1alpha1.AnalysisRun{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, run); err != nil {
		return nil, explain(err, "analysisrun", name, ns)
	}
	return run, nil
}

// namespace is -n, else the kubeconfig context's, else "default".
func (e *env) namespace() (string, error) {
	ns, _, err := e.getter.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

func (e *env) now() time.Time { return e.clock.Now() }

// color reports whether output is coloured: a terminal, without --no-color
// or NO_COLOR.
func (e *env) color() bool {
	if e.noColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := e.out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// rollout reads a rollout, with an error a person understands when it is
// missing or forbidden.
func (e *env) rollout(ctx context.Context, name string) (*v1alpha1.Rollout, error) {
	cl, ns, err := e.clientIn()
	if err != nil {
		return nil, err
	}
	ro := &v1alpha1.Rollout{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
		return nil, explain(err, "rollout", name, ns)
	}
	return ro, nil
}

// explain turns API errors into one line naming the object.
func explain(err error, kind, name, ns string) error { return operate.Explain(err, kind, name, ns) }

func isForbidden(err error) bool { return apierrors.IsForbidden(err) }
