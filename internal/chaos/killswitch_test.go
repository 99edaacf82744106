package chaos_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// killSwitch stands between ramp-controller and the API server: the
// controller's kubeconfig points at it, and it forwards every request with
// the controller's identity. Armed with n, it kills the process as soon as
// the API server has answered the controller's n-th write from then on:
// the write landed, the process never learns it did, and the writes that
// would have followed in the same reconcile never happen. Random n puts
// kills into every gap between two writes of a reconcile.
type killSwitch struct {
	srv    *httptest.Server
	writes atomic.Int64

	mu    sync.Mutex
	left  int
	kill  func()
	fired int
}

// newKillSwitch forwards to the API server of cfg, whose identity (an
// administrator impersonating the controller) every request is sent with.
func newKillSwitch(cfg *rest.Config) (*killSwitch, error) {
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	k := &killSwitch{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = rt
	proxy.FlushInterval = -1 // watches stream
	proxy.ModifyResponse = func(resp *http.Response) error {
		if isWrite(resp.Request.Method) && k.landed() {
			return errKilled
		}
		return nil
	}
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		if errors.Is(err, errKilled) {
			return // the process is gone; nobody reads this
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	k.srv = httptest.NewServer(proxy)
	return k, nil
}

var errKilled = errors.New("killed after the write")

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// landed counts a write the API server answered and, when it is the one
// the switch is armed for, kills the process.
func (k *killSwitch) landed() bool {
	k.writes.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kill == nil {
		return false
	}
	k.left--
	if k.left > 0 {
		return false
	}
	k.kill()
	k.kill = nil
	k.fired++
	return true
}

// arm kills with kill after the n-th write from now.
func (k *killSwitch) arm(n int, kill func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.left, k.kill = n, kill
}

// disarm forgets the armed kill, if it has not fired.
func (k *killSwitch) disarm() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kill = nil
}

// Fired is how many kills came after a write.
func (k *killSwitch) Fired() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fired
}

// writeKubeconfig writes a kubeconfig without credentials that points at
// the switch.
func (k *killSwitch) writeKubeconfig(path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["chaos"] = &clientcmdapi.Cluster{Server: k.srv.URL}
	kc.AuthInfos["chaos"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["chaos"] = &clientcmdapi.Context{Cluster: "chaos", AuthInfo: "chaos"}
	kc.CurrentContext = "chaos"
	return clientcmd.WriteToFile(*kc, path)
}

func (k *killSwitch) Close() { k.srv.Close() }
