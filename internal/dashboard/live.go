package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// A page's stream watches, as its viewer, only what the page shows and
// pushes the page's live region again when it changed: the server keeps
// no cache, so its memory follows the pages open, not the cluster.

// watchOf is one watch a stream holds.
type watchOf struct {
	list func() client.ObjectList
	opts []client.ListOption
	// from is the resourceVersion the page was read at: the first watch
	// starts there, so an unchanged page is not sent again.
	from string
}

// settle is how long a stream waits for more changes before it renders:
// the controller writes a rollout and its ReplicaSets in bursts.
const settle = 100 * time.Millisecond

// heartbeat keeps idle streams open through proxies.
const heartbeat = 20 * time.Second

// stream serves Server-Sent Events: an "update" event with the live
// region's HTML each time what the watches see changed, until the viewer
// leaves.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, watches func(context.Context, client.WithWatch) ([]watchOf, error), render func(context.Context, client.WithWatch) (string, any, error)) {
	cl := s.viewer(w, r)
	if cl == nil {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	ws, err := watches(ctx, cl)
	if err != nil {
		http.Error(w, err.Error(), statusOf(err))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	changed := make(chan struct{}, 1)
	for _, wo := range ws {
		go watchLoop(ctx, cl, wo, changed)
	}
	last := ""
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
			continue
		case <-changed:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(settle):
		}
		select { // changes during the settle are in this render
		case <-changed:
		default:
		}
		name, view, err := render(ctx, cl)
		var buf bytes.Buffer
		if err == nil {
			err = s.pages.ExecuteTemplate(&buf, name, view)
		}
		if err != nil {
			buf.Reset()
			fmt.Fprintf(&buf, `<p class="error" role="alert">%s</p>`, templateEscape(err.Error()))
		}
		if buf.String() == last {
			continue
		}
		last = buf.String()
		var ev strings.Builder
		ev.WriteString("event: update\n")
		// A carriage return ends an SSE line too: text from the cluster
		// (a message) must not end one.
		for _, line := range strings.Split(strings.ReplaceAll(last, "\r", ""), "\n") {
			ev.WriteString("data: " + line + "\n")
		}
		ev.WriteString("\n")
		if _, err := fmt.Fprint(w, ev.String()); err != nil {
			return
		}
		flusher.Flush()
	}
}

// watchLoop watches until ctx ends, watching again when the API server
// ends the watch; a watch the viewer may not make is given up (the page
// shows what its reads could).
func watchLoop(ctx context.Context, cl client.WithWatch, wo watchOf, changed chan<- struct{}) {
	from := wo.from
	for ctx.Err() == nil {
		opts := wo.opts
		if from != "" {
			opts = append(slices.Clip(opts), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: from}})
			from = "" // once: a watch started again lists what it missed
		}
		wi, err := cl.Watch(ctx, wo.list(), opts...)
		if err != nil {
			if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for ev := range wi.ResultChan() {
			if ev.Type == watch.Error {
				break
			}
			select {
			case changed <- struct{}{}:
			default:
			}
		}
		wi.Stop()
	}
}

func (s *Server) listStream(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	s.stream(w, r, func(context.Context, client.WithWatch) ([]watchOf, error) {
		var opts []client.ListOption
		if ns != allNamespaces {
			opts = append(opts, client.InNamespace(ns))
		}
		return []watchOf{{list: func() client.ObjectList { return &v1alpha1.RolloutList{} }, opts: opts, from: r.URL.Query().Get("from")}}, nil
	}, func(ctx context.Context, cl client.WithWatch) (string, any, error) {
		v, err := s.listRollouts(ctx, cl, ns)
		return "list-live", v, err
	})
}

func (s *Server) rolloutStream(w http.ResponseWriter, r *http.Request) {
	key := client.ObjectKey{Namespace: r.PathValue("ns"), Name: r.PathValue("name")}
	s.stream(w, r, func(ctx context.Context, cl client.WithWatch) ([]watchOf, error) {
		ro := &v1alpha1.Rollout{}
		if err := cl.Get(ctx, key, ro); err != nil {
			return nil, err
		}
		sel := labels.Everything()
		if ro.Spec.Selector != nil {
			var err error
			if sel, err = metav1.LabelSelectorAsSelector(ro.Spec.Selector); err != nil {
				return nil, err
			}
		}
		ns := client.InNamespace(key.Namespace)
		byName := client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", key.Name)}
		owned := client.HasLabels{v1alpha1.DefaultRolloutUniqueLabelKey}
		mine := client.MatchingLabelsSelector{Selector: sel}
		return []watchOf{
			{list: func() client.ObjectList { return &v1alpha1.RolloutList{} }, opts: []client.ListOption{ns, byName}},
			{list: func() client.ObjectList { return &appsv1.ReplicaSetList{} }, opts: []client.ListOption{ns, mine}},
			{list: func() client.ObjectList { return &corev1.PodList{} }, opts: []client.ListOption{ns, mine}},
			{list: func() client.ObjectList { return &v1alpha1.AnalysisRunList{} }, opts: []client.ListOption{ns, owned}},
		}, nil
	}, func(ctx context.Context, cl client.WithWatch) (string, any, error) {
		v, err := s.loadRollout(ctx, cl, key)
		return "rollout-live", v, err
	})
}

func (s *Server) runStream(w http.ResponseWriter, r *http.Request) {
	key := client.ObjectKey{Namespace: r.PathValue("ns"), Name: r.PathValue("name")}
	s.stream(w, r, func(context.Context, client.WithWatch) ([]watchOf, error) {
		byName := client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", key.Name)}
		return []watchOf{{list: func() client.ObjectList { return &v1alpha1.AnalysisRunList{} }, opts: []client.ListOption{client.InNamespace(key.Namespace), byName}}}, nil
	}, func(ctx context.Context, cl client.WithWatch) (string, any, error) {
		v, err := s.loadRun(ctx, cl, key)
		return "run-live", v, err
	})
}
