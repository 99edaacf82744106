package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/operate"
)

// page is what the layout needs beside the page's own view.
type page struct {
	Title     string
	Namespace string
	CSRF      string
	// Stream is the page's live stream; empty for a static page.
	Stream string
	// SignOut is shown when the viewer signed in with a token.
	SignOut bool
	View    any
	Error   string
}

// allNamespaces is the list page's name for every namespace.
const allNamespaces = "_all"

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	ns := s.opts.Namespace
	if s.opts.AllNamespaces {
		ns = allNamespaces
	}
	http.Redirect(w, r, "/rollouts/"+ns, http.StatusFound)
}

// render writes a page, or the sign-in page when the viewer has no
// credentials.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.CSRF = csrfToken(w, r)
	p.SignOut = s.opts.Identity == Token && bearer(r) != ""
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, p); err != nil {
		s.opts.Log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "the page failed to render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// viewer is the request's client; without credentials it answers 401 (and
// the sign-in page for a browser) and returns nil.
func (s *Server) viewer(w http.ResponseWriter, r *http.Request) client.WithWatch {
	cl, err := s.client(r)
	if err == nil {
		return cl
	}
	if errors.Is(err, errNoCredentials) && r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/stream/") {
		s.render(w, r, http.StatusUnauthorized, "login.html", page{Title: "Sign in", Error: "Sign in with a Kubernetes token: this dashboard acts with your own permissions."})
		return nil
	}
	http.Error(w, err.Error(), http.StatusUnauthorized)
	return nil
}

// listView is the list page's live region.
type listView struct {
	Namespace string
	All       bool
	Rows      []row
	// Statuses are the statuses present, for the filter.
	Statuses []string
	// resourceVersion is the list's: the page's stream watches from it.
	resourceVersion string
}

func (s *Server) listRollouts(ctx context.Context, cl client.Reader, ns string) (listView, error) {
	v := listView{Namespace: ns, All: ns == allNamespaces}
	list := &v1alpha1.RolloutList{}
	var opts []client.ListOption
	if !v.All {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := cl.List(ctx, list, opts...); err != nil {
		return v, explainList(err, ns)
	}
	v.resourceVersion = list.ResourceVersion
	for i := range list.Items {
		r := rowOf(&list.Items[i])
		v.Rows = append(v.Rows, r)
		if !slices.Contains(v.Statuses, r.Status) {
			v.Statuses = append(v.Statuses, r.Status)
		}
	}
	slices.SortFunc(v.Rows, func(a, b row) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	slices.Sort(v.Statuses)
	return v, nil
}

func explainList(err error, ns string) error {
	if apierrors.IsForbidden(err) {
		if ns == allNamespaces {
			return fmt.Errorf("you are not allowed to list rollouts in every namespace: pick a namespace (%w)", err)
		}
		return fmt.Errorf("you are not allowed to list rollouts in namespace %q (%w)", ns, err)
	}
	return err
}

func (s *Server) listPage(w http.ResponseWriter, r *http.Request) {
	cl := s.viewer(w, r)
	if cl == nil {
		return
	}
	ns := r.PathValue("ns")
	v, err := s.listRollouts(r.Context(), cl, ns)
	p := page{Title: "Rollouts", Namespace: ns, View: v, Stream: "/stream/rollouts/" + ns + "?from=" + url.QueryEscape(v.resourceVersion)}
	status := http.StatusOK
	if err != nil {
		p.Error, p.Stream, status = err.Error(), "", statusOf(err)
	}
	s.render(w, r, status, "list.html", p)
}

func (s *Server) loadRollout(ctx context.Context, cl client.Reader, key client.ObjectKey) (rolloutView, error) {
	ro := &v1alpha1.Rollout{}
	if err := cl.Get(ctx, key, ro); err != nil {
		return rolloutView{}, operate.Explain(err, "rollout", key.Name, key.Namespace)
	}
	info, err := operate.Load(ctx, cl, ro)
	notice := ""
	if apierrors.IsForbidden(err) {
		// A viewer who may read rollouts but not what they own sees the
		// rollout, and why the rest is missing.
		info, notice = &operate.Info{Rollout: ro}, "Revisions are not shown: "+err.Error()
	} else if err != nil {
		return rolloutView{}, err
	}
	v := rolloutViewOf(info, s.opts.Clock.Now())
	v.Notice = notice
	return v, nil
}

func (s *Server) rolloutPage(w http.ResponseWriter, r *http.Request) {
	s.objectPage(w, r, "rollout.html", "/stream/rollouts/", func(ctx context.Context, cl client.Reader, key client.ObjectKey) (any, error) {
		return s.loadRollout(ctx, cl, key)
	})
}

// objectPage serves the page of one object (namespace and name in the
// path), read by load as the viewer, live from its stream.
func (s *Server) objectPage(w http.ResponseWriter, r *http.Request, name, stream string, load func(context.Context, client.Reader, client.ObjectKey) (any, error)) {
	cl := s.viewer(w, r)
	if cl == nil {
		return
	}
	key := client.ObjectKey{Namespace: r.PathValue("ns"), Name: r.PathValue("name")}
	v, err := load(r.Context(), cl, key)
	p := page{Title: key.Name, Namespace: key.Namespace, View: v, Stream: stream + key.Namespace + "/" + key.Name}
	status := http.StatusOK
	if err != nil {
		p.Error, p.Stream, status = err.Error(), "", statusOf(err)
	}
	s.render(w, r, status, name, p)
}

func (s *Server) loadRun(ctx context.Context, cl client.Reader, key client.ObjectKey) (runPageView, error) {
	run := &v1alpha1.AnalysisRun{}
	if err := cl.Get(ctx, key, run); err != nil {
		return runPageView{}, operate.Explain(err, "analysisrun", key.Name, key.Namespace)
	}
	return runPageOf(run), nil
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	s.objectPage(w, r, "run.html", "/stream/analysisruns/", func(ctx context.Context, cl client.Reader, key client.ObjectKey) (any, error) {
		return s.loadRun(ctx, cl, key)
	})
}

func statusOf(err error) int {
	switch {
	case apierrors.IsForbidden(err):
		return http.StatusForbidden
	case apierrors.IsNotFound(err) || strings.Contains(err.Error(), "not found in namespace"):
		return http.StatusNotFound
	case apierrors.IsUnauthorized(err):
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// act runs one of the CLI's actions on the rollout, decided on the state
// the page showed, and answers with the CLI's line (or its refusal).
func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	if err := checkWrite(w, r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	cl := s.viewer(w, r)
	if cl == nil {
		return
	}
	seen, err := operate.ParseState(r.PostFormValue("state"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := client.ObjectKey{Namespace: r.PathValue("ns"), Name: r.PathValue("name")}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	var msg string
	switch action := r.PathValue("action"); action {
	case "promote":
		msg, err = operate.Do(ctx, cl, key, operate.Promote(operate.PromoteOptions{}), &seen)
	case "promote-full":
		msg, err = operate.Do(ctx, cl, key, operate.Promote(operate.PromoteOptions{Full: true}), &seen)
	case "abort":
		msg, err = operate.Do(ctx, cl, key, operate.Abort(), &seen)
	case "retry":
		msg, err = operate.Do(ctx, cl, key, operate.Retry(), &seen)
	case "pause":
		msg, err = operate.Do(ctx, cl, key, operate.Pause(), &seen)
	case "resume":
		msg, err = operate.Do(ctx, cl, key, operate.Resume(), &seen)
	case "restart":
		msg, err = operate.Do(ctx, cl, key, operate.Restart(s.opts.Clock.Now(), 0), &seen)
	case "set-image":
		c, img := strings.TrimSpace(r.PostFormValue("container")), strings.TrimSpace(r.PostFormValue("image"))
		msg, err = operate.EditTemplate(ctx, cl, key, &seen, operate.SetImages([]string{c + "=" + img}))
	case "undo":
		msg, err = s.undo(ctx, cl, key, &seen, r.PostFormValue("revision"))
	default:
		http.Error(w, fmt.Sprintf("no action %q: promote, promote-full, abort, retry, pause, resume, restart, set-image or undo", action), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err != nil {
		w.WriteHeader(actionStatus(err))
		_, _ = w.Write([]byte(friendly(err)))
		return
	}
	_, _ = w.Write([]byte(msg))
}

func (s *Server) undo(ctx context.Context, cl client.Client, key client.ObjectKey, seen *operate.State, revision string) (string, error) {
	to := 0
	if revision != "" {
		n, err := strconv.Atoi(revision)
		if err != nil || n < 1 {
			return "", fmt.Errorf("revision %q: must be a revision number", revision)
		}
		to = n
	}
	ro := &v1alpha1.Rollout{}
	if err := cl.Get(ctx, key, ro); err != nil {
		return "", operate.Explain(err, "rollout", key.Name, key.Namespace)
	}
	info, err := operate.Load(ctx, cl, ro)
	if err != nil {
		return "", err
	}
	return operate.EditTemplate(ctx, cl, key, seen, operate.Undo(info, to))
}

func actionStatus(err error) int {
	var moved *operate.MovedOnError
	switch {
	case apierrors.IsForbidden(err):
		return http.StatusForbidden
	case errors.As(err, &moved), apierrors.IsConflict(err):
		return http.StatusConflict
	case apierrors.IsNotFound(err) || strings.Contains(err.Error(), "not found in namespace"):
		return http.StatusNotFound
	}
	return http.StatusUnprocessableEntity
}

// friendly words an action's refusal for a page: RBAC's answer first, in
// a sentence.
func friendly(err error) string {
	if apierrors.IsForbidden(err) {
		return "Not allowed: your Kubernetes identity may not do this (" + err.Error() + ")"
	}
	var moved *operate.MovedOnError
	if errors.As(err, &moved) {
		return strings.Replace(err.Error(), "look again (ramp get rollout "+moved.Name+") and run it again", "the page shows it now; look again before you act", 1)
	}
	return err.Error()
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login.html", page{Title: "Sign in"})
}

// login keeps the token given in an HttpOnly cookie; the API server judges
// it on every request.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := checkWrite(w, r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if s.opts.Identity != Token || tok == "" {
		s.render(w, r, http.StatusBadRequest, "login.html", page{Title: "Sign in", Error: "Give a Kubernetes bearer token (this server signs in with tokens only)."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := checkWrite(w, r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
