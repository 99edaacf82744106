package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"k8s.io/client-go/rest"
)

// Identity is how the server learns who the viewer is.
type Identity string

const (
	// Kubeconfig: one viewer, the user whose kubeconfig started the server
	// (`ramp dashboard` on a workstation).
	Kubeconfig Identity = "kubeconfig"
	// Token: the request's bearer token (an Authorization header, as an
	// authenticating proxy passes it, or the token given on the sign-in
	// page, kept in an HttpOnly cookie) is passed to the API server.
	Token Identity = "token"
	// Proxy: an authenticating proxy in front of the server names the
	// user and groups in headers; the server impersonates them, so its
	// ServiceAccount needs `impersonate` on users and groups and nothing
	// else. Only for a server every request reaches through the proxy.
	Proxy Identity = "proxy"
)

// tokenCookie keeps the token given on the sign-in page.
const tokenCookie = "ramp_token"

// errNoCredentials is a cluster-mode request without an identity.
var errNoCredentials = errors.New("no credentials: sign in with a Kubernetes token")

// viewerConfig is the REST config of the request's viewer: the base config
// as it is (Kubeconfig), without its own credentials plus the viewer's
// token (Token), or impersonating the proxy's user (Proxy). It never falls
// back to the server's own rights. key tells viewers apart (for caches).
func (s *Server) viewerConfig(r *http.Request) (cfg *rest.Config, key string, err error) {
	switch s.opts.Identity {
	case Token:
		tok := bearer(r)
		if tok == "" {
			return nil, "", errNoCredentials
		}
		cfg = rest.AnonymousClientConfig(s.opts.Config)
		cfg.BearerToken = tok
		return cfg, "token:" + tok, nil
	case Proxy:
		user := strings.TrimSpace(r.Header.Get(s.opts.UserHeader))
		if user == "" {
			return nil, "", errors.New("no user: the authenticating proxy did not name one (header " + s.opts.UserHeader + ")")
		}
		var groups []string
		for _, v := range r.Header.Values(s.opts.GroupHeader) {
			for _, g := range strings.Split(v, ",") {
				if g = strings.TrimSpace(g); g != "" {
					groups = append(groups, g)
				}
			}
		}
		cfg = rest.CopyConfig(s.opts.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
		return cfg, "proxy:" + user + "\x00" + strings.Join(groups, ","), nil
	}
	return rest.CopyConfig(s.opts.Config), "kubeconfig", nil
}

// bearer is the request's token: the Authorization header, else the
// sign-in cookie.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if c, err := r.Cookie(tokenCookie); err == nil {
		return c.Value
	}
	return ""
}
