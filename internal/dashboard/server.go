package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

//go:embed assets
var assets embed.FS

// Options configure a Server.
type Options struct {
	// Config reaches the API server: the user's kubeconfig (Kubeconfig),
	// the server's in-cluster config (Token: only its address and CA are
	// used; Proxy: its credentials impersonate the viewer).
	Config *rest.Config
	// Identity is how viewers are known; Kubeconfig if empty.
	Identity Identity
	// UserHeader and GroupHeader name the proxy's headers (Proxy);
	// X-Forwarded-User and X-Forwarded-Groups if empty.
	UserHeader, GroupHeader string
	// Namespace is the page shown first; AllNamespaces lists every
	// namespace the viewer may list rollouts in.
	Namespace     string
	AllNamespaces bool
	// Clock tells ages; the real clock if nil.
	Clock clock.PassiveClock
	// Log is where requests that fail are told; slog's default if nil.
	Log *slog.Logger
}

// Server serves the dashboard. It holds no cache of the cluster: each page
// reads, and each open page watches, what it shows, as its viewer.
type Server struct {
	opts   Options
	scheme *runtime.Scheme
	mapper meta.RESTMapper
	pages  *template.Template
	mux    *http.ServeMux
}

// New makes a Server.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("dashboard: no API server config")
	}
	if opts.Identity == "" {
		opts.Identity = Kubeconfig
	}
	switch opts.Identity {
	case Kubeconfig, Token, Proxy:
	default:
		return nil, fmt.Errorf("dashboard: identity %q: must be kubeconfig, token or proxy", opts.Identity)
	}
	if opts.UserHeader == "" {
		opts.UserHeader = "X-Forwarded-User"
	}
	if opts.GroupHeader == "" {
		opts.GroupHeader = "X-Forwarded-Groups"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	pages, err := template.New("").Funcs(funcs(opts.Clock)).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, scheme: newScheme(), mapper: newMapper(), pages: pages, mux: http.NewServeMux()}
	static, _ := fs.Sub(assets, "assets/static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("GET /rollouts", func(w http.ResponseWriter, r *http.Request) {
		ns := strings.TrimSpace(r.URL.Query().Get("ns"))
		if ns == "" {
			ns = allNamespaces
		}
		http.Redirect(w, r, "/rollouts/"+url.PathEscape(ns), http.StatusFound)
	})
	s.mux.HandleFunc("GET /rollouts/{ns}", s.listPage)
	s.mux.HandleFunc("GET /rollouts/{ns}/{name}", s.rolloutPage)
	s.mux.HandleFunc("POST /rollouts/{ns}/{name}/{action}", s.act)
	s.mux.HandleFunc("GET /analysisruns/{ns}/{name}", s.runPage)
	s.mux.HandleFunc("GET /stream/rollouts/{ns}", s.listStream)
	s.mux.HandleFunc("GET /stream/rollouts/{ns}/{name}", s.rolloutStream)
	s.mux.HandleFunc("GET /stream/analysisruns/{ns}/{name}", s.runStream)
	return s, nil
}

// ServeHTTP serves the dashboard, with the headers every response carries.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

// client is a client acting as the request's viewer; it shares the
// server's scheme and a fixed REST mapping (no discovery per viewer).
func (s *Server) client(r *http.Request) (client.WithWatch, error) {
	cfg, _, err := s.viewerConfig(r)
	if err != nil {
		return nil, err
	}
	cfg.ContentType, cfg.AcceptContentTypes = "application/json", "application/json"
	return client.NewWithWatch(cfg, client.Options{Scheme: s.scheme, Mapper: s.mapper})
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}

// newMapper maps the kinds the dashboard reads, all namespaced.
func newMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range []schema.GroupVersionKind{
		v1alpha1.GroupVersion.WithKind("Rollout"),
		v1alpha1.GroupVersion.WithKind("AnalysisRun"),
		v1alpha1.GroupVersion.WithKind("Experiment"),
		appsv1.SchemeGroupVersion.WithKind("ReplicaSet"),
		appsv1.SchemeGroupVersion.WithKind("Deployment"),
		corev1.SchemeGroupVersion.WithKind("Pod"),
		corev1.SchemeGroupVersion.WithKind("Service"),
		corev1.SchemeGroupVersion.WithKind("PodTemplate"),
		batchv1.SchemeGroupVersion.WithKind("Job"),
	} {
		m.Add(gvk, meta.RESTScopeNamespace)
	}
	return m
}

// csrfCookie holds the token every write must repeat (X-CSRF-Token or the
// form's csrf field): a cross-site page can make the browser send the
// cookie but cannot read it to repeat it.
const csrfCookie = "ramp_csrf"

// csrfToken is the request's CSRF token, set as a cookie when it has none.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return tok
}

// maxForm bounds a write's form: a token, a state, an image.
const maxForm = 64 << 10

// checkWrite refuses a write from another site or without the page's
// CSRF token.
func checkWrite(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return errors.New("refused: the request came from another site")
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return errors.New("refused: the request came from another origin")
		}
	}
	c, err := r.Cookie(csrfCookie)
	sent := r.Header.Get("X-CSRF-Token")
	if sent == "" {
		sent = r.PostFormValue("csrf")
	}
	if err != nil || sent == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(sent)) != 1 {
		return errors.New("refused: the page's CSRF token is missing or stale; reload the page")
	}
	return nil
}
