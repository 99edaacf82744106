package clustertest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"
)

// RequestLogEnv names a directory: when it is set, RecordRequests writes
// each kind of request the controller makes (verb, API group, resource,
// and whether it was refused) to a file there. `make test` sets it for the
// whole suite, then compares the requests with the controller's roles
// (config's TestRolesMatchTheRequests).
const RequestLogEnv = "RAMP_REQUEST_LOG"

var infos = &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}

// RecordRequests returns cfg with its requests recorded, when RequestLogEnv
// is set; cfg unchanged otherwise.
func RecordRequests(cfg *rest.Config) *rest.Config {
	dir := os.Getenv(RequestLogEnv)
	if dir == "" {
		return cfg
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &recorder{next: rt, path: filepath.Join(dir, fmt.Sprintf("requests-%d.log", os.Getpid()))}
	})
	return cfg
}

type recorder struct {
	next http.RoundTripper
	path string
	mu   sync.Mutex
	seen map[string]bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	info, ierr := infos.NewRequestInfo(req)
	if ierr != nil || !info.IsResourceRequest {
		return resp, err
	}
	outcome := "allowed"
	if resp.StatusCode == http.StatusForbidden {
		outcome = "refused"
	}
	resource := info.Resource
	if info.Subresource != "" {
		resource += "/" + info.Subresource
	}
	group := info.APIGroup
	if group == "" {
		group = `""`
	}
	line := fmt.Sprintf("%s %s %s %s\n", info.Verb, group, resource, outcome)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[line] {
		return resp, err
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[line] = true
	if f, ferr := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
		_, _ = f.WriteString(line)
		f.Close()
	}
	return resp, err
}
