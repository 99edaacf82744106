package cluster

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/rampdev/ramp/config/crd"
)

// Options configure a cluster. The zero value is a throw-away cluster with
// three simulated nodes and Ramp's CRDs installed.
type Options struct {
	// Dir keeps the cluster's state: etcd data, certificates and the admin
	// kubeconfig. A cluster started again on the same Dir finds its objects
	// where it left them. Empty means a temporary directory that Stop
	// removes.
	Dir string
	// Nodes shape the simulated nodes.
	Nodes NodeOptions
	// Clock drives the simulated nodes. Defaults to the real clock.
	Clock clock.WithTicker
	// ExtraCRDs are installed beside Ramp's own (for example Gateway API or
	// Istio CRDs for router tests).
	ExtraCRDs []*apiextensionsv1.CustomResourceDefinition
	// Log receives the control plane's logs (klog). Nil discards them.
	// klog is process-wide: the last cluster started decides.
	Log io.Writer
}

// Cluster is a running in-process Kubernetes cluster.
type Cluster struct {
	dir     string
	tempDir bool
	pki     *pki
	etcd    *etcdServer
	api     *apiServer
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped sync.Once
	factory informers.SharedInformerFactory
}

// Start starts a cluster and returns once it serves requests, its
// controllers run and Ramp's CRDs are established. Cancelling ctx after
// Start returns does not stop the cluster: call Stop.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	setLogOutput(opts.Log)
	c = &Cluster{dir: opts.Dir}
	if c.dir == "" {
		c.dir, err = os.MkdirTemp("", "ramp-cluster-")
		if err != nil {
			return nil, err
		}
		c.tempDir = true
	} else if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel

	if c.pki, err = loadOrCreatePKI(filepath.Join(c.dir, "pki")); err != nil {
		return c, err
	}
	if c.etcd, err = startEtcd(filepath.Join(c.dir, "etcd"), !c.tempDir); err != nil {
		return c, err
	}
	startCtx, stopWaiting := context.WithTimeout(ctx, 3*time.Minute)
	defer stopWaiting()
	if c.api, err = startAPIServer(runCtx, apiServerConfig{etcdURL: c.etcd.clientURL, pki: c.pki, serviceCIDR: "10.96.0.0/16"}); err != nil {
		return c, err
	}
	if err := c.WriteKubeconfig(filepath.Join(c.dir, "kubeconfig")); err != nil {
		return c, err
	}

	crds, err := crd.CRDs()
	if err != nil {
		return c, err
	}
	es, err := endpointSliceCRD()
	if err != nil {
		return c, err
	}
	crds = append(append([]*apiextensionsv1.CustomResourceDefinition{es}, crds...), opts.ExtraCRDs...)
	ext, err := apiextensionsclient.NewForConfig(c.Config())
	if err != nil {
		return c, err
	}
	if err := installCRDs(startCtx, ext, crds); err != nil {
		return c, err
	}
	if err := c.api.wait(startCtx, "/readyz"); err != nil {
		return c, err
	}

	if err := startControllers(runCtx, c.Config(), &c.wg); err != nil {
		return c, err
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	client, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		return c, err
	}
	sim := newNodeSim(client, clk, newIPPool(), opts.Nodes)
	if err := sim.registerNodes(startCtx); err != nil {
		return c, err
	}
	c.factory = informers.NewSharedInformerFactory(client, 0)
	sim.start(runCtx, c.factory)
	c.factory.Start(runCtx.Done())
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		sim.run(runCtx, 4)
	}()
	return c, nil
}

// Stop stops the cluster and waits for its parts to finish. A temporary
// directory is removed. Stop may be called more than once.
func (c *Cluster) Stop() {
	c.stopped.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
		c.wg.Wait()
		if c.factory != nil {
			c.factory.Shutdown()
		}
		if c.api != nil {
			select {
			case <-c.api.done:
			case <-time.After(time.Minute):
			}
		}
		if c.etcd != nil {
			c.etcd.stop()
		}
		if c.tempDir {
			_ = os.RemoveAll(c.dir)
		}
	})
}

// Dir is the directory that holds the cluster's state.
func (c *Cluster) Dir() string { return c.dir }

// Host is the API server's URL.
func (c *Cluster) Host() string { return c.api.host }

// KubeconfigPath is where Start wrote the admin kubeconfig.
func (c *Cluster) KubeconfigPath() string { return filepath.Join(c.dir, "kubeconfig") }

// Config is an admin client configuration (user ramp-admin, group
// system:masters) that speaks JSON, with generous client-side rate limits.
func (c *Cluster) Config() *restclient.Config {
	return &restclient.Config{
		Host: c.api.host,
		TLSClientConfig: restclient.TLSClientConfig{
			CAData:   c.pki.caCertPEM,
			CertData: c.pki.adminCertPEM,
			KeyData:  c.pki.adminKeyPEM,
		},
		// JSON, not protobuf: EndpointSlice is served by a CRD here, and
		// CRDs cannot speak protobuf.
		ContentConfig: restclient.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"},
		QPS:           1000,
		Burst:         2000,
	}
}

// Kubeconfig returns an admin kubeconfig for the cluster.
func (c *Cluster) Kubeconfig() ([]byte, error) {
	const name = "ramp-sandbox"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: c.api.host, CertificateAuthorityData: c.pki.caCertPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: c.pki.adminCertPEM, ClientKeyData: c.pki.adminKeyPEM}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	cfg.CurrentContext = name
	return clientcmd.Write(*cfg)
}

// WriteKubeconfig writes an admin kubeconfig to path, readable only by the
// current user.
func (c *Cluster) WriteKubeconfig(path string) error {
	b, err := c.Kubeconfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

var logMu sync.Mutex

// setLogOutput points klog, which the control plane logs through, at w (nil
// discards).
func setLogOutput(w io.Writer) {
	logMu.Lock()
	defer logMu.Unlock()
	if w == nil {
		w = io.Discard
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{
		"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL", "one_output": "true",
	} {
		_ = fs.Set(name, value)
	}
	klog.SetOutput(w)
}
