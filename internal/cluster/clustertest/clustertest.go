// Package clustertest holds what tests on the in-process cluster share: a
// namespace of their own, waiting for a condition with a deadline (never
// sleeping to synchronise), third-party CRDs read from files, and clients
// whose writes are counted.
package clustertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/config"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
)

// Namespace creates a namespace named after the test (a benchmark that
// runs its function again gets "-2", "-3"...) and returns its name.
func Namespace(t testing.TB, c client.Client) string {
	t.Helper()
	base := strings.Trim(strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), "-")
	if len(base) > 55 {
		base = strings.Trim(base[len(base)-55:], "-")
	}
	ns := base
	for n := 2; ; n++ {
		err := c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err == nil {
			return ns
		}
		if !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		ns = fmt.Sprintf("%s-%d", base, n)
	}
}

// Eventually waits up to timeout for cond, polling; on timeout it fails
// the test with what cond last said.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 25*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, why := cond()
		last = why
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not true after %v; last seen: %s", what, timeout, last)
	}
}

// CRDs reads the CustomResourceDefinitions in files (each may hold several
// YAML documents), for cluster.Options.ExtraCRDs.
func CRDs(files ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
				continue
			}
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.Unmarshal([]byte(doc), crd); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if crd.Name != "" {
				out = append(out, crd)
			}
		}
	}
	return out, nil
}

// Clients are the test's own client, and a client whose writes are counted
// (for the code under test), both with scheme.
func Clients(cfg *rest.Config, scheme *runtime.Scheme) (admin, counted client.Client, writes *cluster.WriteCounter, err error) {
	writes = &cluster.WriteCounter{}
	if admin, err = client.New(rest.CopyConfig(cfg), client.Options{Scheme: scheme}); err != nil {
		return nil, nil, nil, err
	}
	countedCfg := RecordRequests(cfg)
	countedCfg.Wrap(writes.Wrap)
	counted, err = client.New(countedCfg, client.Options{Scheme: scheme})
	return admin, counted, writes, err
}

// Reconciles is how many reconciles the controller named controller
// ("rollout", "analysisrun") has run in this process, from
// controller-runtime's metrics.
func Reconciles(t testing.TB, controller string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// InstallRBAC applies config/default's Namespace, ServiceAccount and roles,
// so that a controller impersonating config.Username runs with exactly the
// permissions it ships with.
func InstallRBAC(cfg *rest.Config) error {
	objs, err := config.Objects()
	if err != nil {
		return err
	}
	admin, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			if err := admin.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("ramp-test"), client.ForceOwnership); err != nil {
				return fmt.Errorf("applying %s %s: %w", o.GetKind(), o.GetName(), err)
			}
		}
	}
	return nil
}

// AsController is cfg impersonating the controller's ServiceAccount (see
// InstallRBAC).
func AsController(cfg *rest.Config) *rest.Config {
	cfg = RecordRequests(cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: config.Username}
	return cfg
}

// Start runs a cluster of the test's own, with the CRDs of crdFiles beside
// Ramp's, until the test ends, and returns it with an administrator's
// client (for tests that cannot share one).
func Start(t testing.TB, crdFiles ...string) (*cluster.Cluster, client.Client) {
	t.Helper()
	crds, err := CRDs(crdFiles...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Start(context.Background(), cluster.Options{ExtraCRDs: crds})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	admin, err := client.New(c.Config(), client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c, admin
}

// WriteControllerKubeconfig writes a kubeconfig for c that impersonates
// the controller's ServiceAccount (see InstallRBAC), for a ramp-controller
// run as its own process.
func WriteControllerKubeconfig(c *cluster.Cluster, path string) error {
	raw, err := c.Kubeconfig()
	if err != nil {
		return err
	}
	kc, err := clientcmd.Load(raw)
	if err != nil {
		return err
	}
	for _, a := range kc.AuthInfos {
		a.Impersonate = config.Username
	}
	return clientcmd.WriteToFile(*kc, path)
}

// Shared is a test package's cluster and clients (see Main).
type Shared struct {
	Cluster *cluster.Cluster
	// Admin is the test's own client; Counted is for the code under test,
	// its writes counted by Writes.
	Admin, Counted client.Client
	Writes         *cluster.WriteCounter
}

// Main is a TestMain for a package whose tests share one cluster: it
// starts it with Ramp's CRDs and those in crdFiles, hands it to ready, runs
// the tests, stops the cluster and exits with the tests' code.
func Main(m *testing.M, scheme *runtime.Scheme, crdFiles []string, ready func(Shared)) {
	crds, err := CRDs(crdFiles...)
	var s Shared
	if err == nil {
		s.Cluster, err = cluster.Start(context.Background(), cluster.Options{ExtraCRDs: crds})
	}
	if err == nil {
		s.Admin, s.Counted, s.Writes, err = Clients(s.Cluster.Config(), scheme)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if s.Cluster != nil {
			s.Cluster.Stop()
		}
		os.Exit(1)
	}
	ready(s)
	code := m.Run()
	s.Cluster.Stop()
	os.Exit(code)
}

// StartController runs ramp-controller with opts against cfg's cluster, as
// its ServiceAccount with the permissions it ships with (InstallRBAC), until
// the test ends.
func StartController(t testing.TB, cfg *rest.Config, opts app.Options) {
	t.Helper()
	if err := InstallRBAC(cfg); err != nil {
		t.Fatal(err)
	}
	opts.SkipControllerNameValidation = true
	mgr, err := app.NewManager(AsController(cfg), opts)
	if err == nil {
		err = app.Setup(mgr, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	RunManager(t, mgr)
}

// RunManager starts mgr and stops it when the test ends.
func RunManager(t testing.TB, mgr manager.Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}
