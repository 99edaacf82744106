package cluster

import (
	"context"
	"fmt"
	"net"
	"time"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// apiServer is a kube-apiserver running in this process.
type apiServer struct {
	host     string // https://127.0.0.1:PORT
	loopback *restclient.Config
	done     chan error
}

// apiServerConfig is what startAPIServer needs.
type apiServerConfig struct {
	etcdURL string
	pki     *pki
	// serviceCIDR is the range of Service cluster IPs. They are written into
	// Services but never dialled.
	serviceCIDR string
}

// startAPIServer starts a kube-apiserver and returns once it answers; it
// stops when ctx is cancelled, and then closes done.
func startAPIServer(ctx context.Context, cfg apiServerConfig) (*apiServer, error) {
	featureGate := utilfeature.DefaultMutableFeatureGate.DeepCopy()
	effectiveVersion := compatibility.DefaultKubeEffectiveVersionForTest()
	effectiveVersion.SetEmulationVersion(featureGate.EmulationVersion())
	effectiveVersion.SetMinCompatibilityVersion(featureGate.MinCompatibilityVersion())
	registry := basecompatibility.NewComponentGlobalsRegistry()
	if err := registry.Register(basecompatibility.DefaultKubeComponent, effectiveVersion, featureGate); err != nil {
		return nil, err
	}

	s := options.NewServerRunOptions()
	s.GenericServerRunOptions.ComponentGlobalsRegistry = registry
	// Registering the flags fills in defaults some options rely on.
	_ = s.Flags()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the API server: %w", err)
	}
	s.SecureServing.Listener = ln
	s.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	s.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	s.SecureServing.ExternalAddress = net.ParseIP("127.0.0.1")
	s.SecureServing.ServerCert.CertKey.CertFile = cfg.pki.servingCert
	s.SecureServing.ServerCert.CertKey.KeyFile = cfg.pki.servingKey
	s.Authentication.ClientCert.ClientCA = cfg.pki.caCertFile
	s.Authentication.ServiceAccounts.Issuers = []string{"https://kubernetes.default.svc.cluster.local"}
	s.Authentication.ServiceAccounts.KeyFiles = []string{cfg.pki.saKeyFile}
	s.ServiceAccountSigningKeyFile = cfg.pki.saKeyFile
	s.Authorization.Modes = []string{"RBAC"}
	s.Admission.GenericAdmission.DisablePlugins = []string{"ServiceAccount"}
	// As on clusters that turn it on: setting blockOwnerDeletion on an
	// owner reference needs update on the owner's finalizers, which
	// Ramp's role grants for that reason.
	s.Admission.GenericAdmission.EnablePlugins = []string{"OwnerReferencesPermissionEnforcement"}
	s.ServiceClusterIPRanges = cfg.serviceCIDR
	s.EndpointReconcilerType = "none"
	s.Etcd.StorageConfig = *storagebackend.NewDefaultConfig("/registry", nil)
	s.Etcd.StorageConfig.Transport.ServerList = []string{cfg.etcdURL}
	// EndpointSlice is served by a CRD instead: see endpointslice_crd.go.
	if err := s.APIEnablement.RuntimeConfig.Set("discovery.k8s.io/v1=false"); err != nil {
		ln.Close()
		return nil, err
	}
	if err := registry.Set(); err != nil {
		ln.Close()
		return nil, err
	}

	completed, err := s.Complete(ctx)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("completing API server options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		ln.Close()
		return nil, fmt.Errorf("validating API server options: %w", utilerrors.NewAggregate(errs))
	}
	config, err := app.NewConfig(completed)
	if err != nil {
		ln.Close()
		return nil, err
	}
	completedConfig, err := config.Complete()
	if err != nil {
		ln.Close()
		return nil, err
	}
	server, err := app.CreateServerChain(completedConfig)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("creating the API server: %w", err)
	}
	as := &apiServer{
		host:     fmt.Sprintf("https://127.0.0.1:%d", s.SecureServing.BindPort),
		loopback: restclient.CopyConfig(server.GenericAPIServer.LoopbackClientConfig),
		done:     make(chan error, 1),
	}
	go func() {
		defer close(as.done)
		prepared, err := server.PrepareRun()
		if err != nil {
			as.done <- err
			return
		}
		if err := prepared.Run(ctx); err != nil {
			as.done <- err
		}
	}()
	// /readyz waits for the EndpointSlice CRD, installed next; /livez
	// answers as soon as requests are served.
	if err := as.wait(ctx, "/livez/ping"); err != nil {
		return as, err
	}
	return as, nil
}

// wait waits until path (/healthz or /readyz) answers ok.
func (as *apiServer) wait(ctx context.Context, path string) error {
	client, err := kubernetes.NewForConfig(as.loopback)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case err, ok := <-as.done:
			if ok && err != nil {
				return false, fmt.Errorf("API server stopped: %w", err)
			}
			return false, fmt.Errorf("API server stopped before it was ready")
		default:
		}
		status := 0
		req := client.Discovery().RESTClient().Get().AbsPath(path)
		if path == "/readyz" {
			// The API server's own EndpointSlice informer syncs only after
			// its list has backed off past the CRD's creation, seconds later;
			// nothing in the cluster waits on it.
			req = req.Param("exclude", "informer-sync")
		}
		res := req.Do(ctx).StatusCode(&status)
		if status == 200 {
			return true, nil
		}
		body, _ := client.Discovery().RESTClient().Get().AbsPath(path).Param("verbose", "true").DoRaw(ctx)
		last = fmt.Errorf("%s: %v: %s", path, res.Error(), body)
		return false, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last answer: %v)", err, last)
	}
	return err
}
