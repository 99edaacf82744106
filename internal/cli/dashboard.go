package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/rampdev/ramp/internal/dashboard"
)

func newDashboardCommand(e *env) *cobra.Command {
	var (
		port                    int
		address                 string
		all, inCluster          bool
		identity                string
		userHeader, groupHeader string
	)
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the dashboard: rollouts, their steps, traffic and analysis, with the actions, as you",
		Long: `Serve the dashboard on http://ADDRESS:PORT.

Locally it uses your kubeconfig: you see and may do what your Kubernetes
identity may. In a cluster (--in-cluster, see docs/dashboard.md) every
request is made as its viewer: with the request's bearer token
(--identity token, the default there; a sign-in page takes one) or as the
user an authenticating proxy names (--identity proxy, impersonated). A
request without credentials is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := dashboard.Options{AllNamespaces: all, Clock: e.clock, UserHeader: userHeader, GroupHeader: groupHeader}
			switch {
			case inCluster:
				cfg, err := rest.InClusterConfig()
				if err != nil {
					return fmt.Errorf("--in-cluster: %w", err)
				}
				opts.Config, opts.Identity = cfg, dashboard.Identity(identity)
				if opts.Identity == "" || opts.Identity == dashboard.Kubeconfig {
					opts.Identity = dashboard.Token
				}
			default:
				if identity != "" && identity != string(dashboard.Kubeconfig) {
					return fmt.Errorf("--identity %s is for a server in a cluster (--in-cluster); locally the dashboard is you, by your kubeconfig", identity)
				}
				cfg, err := e.getter.ToRESTConfig()
				if err != nil {
					return err
				}
				if e.wrap != nil {
					cfg.Wrap(e.wrap)
				}
				opts.Config = cfg
			}
			ns, err := e.namespace()
			if err != nil {
				return err
			}
			opts.Namespace = ns
			srv, err := dashboard.New(opts)
			if err != nil {
				return err
			}
			return serveDashboard(cmd.Context(), e, srv, net.JoinHostPort(address, strconv.Itoa(port)))
		},
	}
	cmd.Flags().IntVar(&port, "port", 3100, "port to serve on")
	cmd.Flags().StringVar(&address, "address", "127.0.0.1", "address to serve on (0.0.0.0: every interface)")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "open on the rollouts of every namespace")
	cmd.Flags().BoolVar(&inCluster, "in-cluster", false, "run in a cluster: the API server from the pod's ServiceAccount, every request made as its viewer")
	cmd.Flags().StringVar(&identity, "identity", "", "in a cluster, how viewers are known: token (their bearer token) or proxy (an authenticating proxy's headers, impersonated)")
	cmd.Flags().StringVar(&userHeader, "user-header", "X-Forwarded-User", "--identity proxy: the header naming the user")
	cmd.Flags().StringVar(&groupHeader, "group-header", "X-Forwarded-Groups", "--identity proxy: the header naming the groups (repeated or comma-separated)")
	return cmd
}

// serveDashboard serves until the command's context ends.
func serveDashboard(ctx context.Context, e *env, h http.Handler, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.out, "Ramp dashboard: http://%s/\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
		return nil
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
