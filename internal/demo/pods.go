package demo

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rampdev/ramp/internal/cluster"
)

// Pods serves demo pods for real: an HTTP server per pod, bound to the
// pod's IP (in 127.0.0.0/8, so on this machine) and Port.
type Pods struct {
	mu      sync.Mutex
	servers map[types.NamespacedName]*podServer
	closed  bool
}

type podServer struct {
	uid    types.UID
	srv    *http.Server
	target string
	labels map[string]string
}

var _ cluster.PodServer = (*Pods)(nil)

// NewPods is a Pods serving nothing yet.
func NewPods() *Pods { return &Pods{servers: map[types.NamespacedName]*podServer{}} }

// Run starts the pod's server if it runs the demo image and is not served
// yet.
func (p *Pods) Run(pod *corev1.Pod) {
	app, ok := AppFor(pod)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if s, ok := p.servers[key]; ok {
		if s.uid == pod.UID {
			return
		}
		stop(s)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(Port)))
	if err != nil {
		return // the nodes call again; the pod stays unserved until then
	}
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	p.servers[key] = &podServer{uid: pod.UID, srv: srv, target: ln.Addr().String(), labels: map[string]string{
		"namespace":                  pod.Namespace,
		"pod":                        pod.Name,
		"rollouts_pod_template_hash": pod.Labels["rollouts-pod-template-hash"],
	}}
}

// Stop stops the pod's server, if any.
func (p *Pods) Stop(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.servers[key]; ok {
		stop(s)
		delete(p.servers, key)
	}
}

// Serving counts the pods served now.
func (p *Pods) Serving() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.servers)
}

// Close stops every server; later Runs are ignored.
func (p *Pods) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, s := range p.servers {
		stop(s)
		delete(p.servers, k)
	}
}

func stop(s *podServer) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		_ = s.srv.Close()
	}
}

// ServeHTTP lists the pods served now in Prometheus' HTTP service
// discovery format: one target group per pod, labelled with its
// namespace, name and rollouts_pod_template_hash.
func (p *Pods) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	p.mu.Lock()
	groups := []group{}
	for _, s := range p.servers {
		groups = append(groups, group{Targets: []string{s.target}, Labels: s.labels})
	}
	p.mu.Unlock()
	slices.SortFunc(groups, func(a, b group) int { return strings.Compare(a.Targets[0], b.Targets[0]) })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(groups)
}
