package dashboard_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/config"
	"github.com/rampdev/ramp/internal/cli"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/dashboard"
)

// config/dashboard-proxy, applied: its Deployment's arguments are the ramp
// command's, and its ServiceAccount, with nothing but the impersonation it
// ships with, serves a proxy's users with their own rights. The
// ServiceAccount itself reads nothing.
func TestInClusterManifestsServeViewersAsThemselves(t *testing.T) {
	objs, err := config.Dashboard(true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ramp-system"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	var args []string
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if o.GetKind() == "Deployment" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			c := containers[0].(map[string]any)
			if cmd := fmt.Sprint(c["command"]); cmd != "[/ramp]" {
				t.Errorf("the Deployment runs %s, want /ramp (the image's CLI)", cmd)
			}
			for _, a := range c["args"].([]any) {
				args = append(args, a.(string))
			}
		}
	}
	root := cli.New("ramp", cli.Options{})
	sub, rest2, err := root.Find(args)
	if err == nil {
		err = sub.ParseFlags(rest2)
	}
	if err != nil || sub.Name() != "dashboard" {
		t.Fatalf("the Deployment's arguments %v: %v", args, err)
	}
	if id, _ := sub.Flags().GetString("identity"); id != "proxy" {
		t.Errorf("config/dashboard-proxy runs --identity %q", id)
	}

	ns := clustertest.Namespace(t, admin)
	if err := admin.Create(ctx, canary(ns, "web")); err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(shared.Config())
	tr, err := cs.CoreV1().ServiceAccounts("ramp-system").CreateToken(ctx, "ramp-dashboard", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	asDashboard := rest.AnonymousClientConfig(shared.Config())
	asDashboard.BearerToken = tr.Status.Token
	base := serve(t, dashboard.Options{Identity: dashboard.Proxy, Namespace: ns, Config: asDashboard})

	bob := http.Header{"X-Forwarded-User": {"bob"}, "X-Forwarded-Groups": {"viewers"}}
	if resp, body := httpGet(t, base+"/rollouts/"+ns, bob); resp.StatusCode != http.StatusForbidden || strings.Contains(body, `data-name="web"`) {
		t.Errorf("bob, without rights: %d\n%s", resp.StatusCode, body)
	}
	bind(t, ns, "rollout-reader", rbacv1.Subject{Kind: rbacv1.GroupKind, Name: "viewers"})
	clustertest.Eventually(t, 30*time.Second, "bob, of the group viewers, sees web", func() (bool, string) {
		resp, body := httpGet(t, base+"/rollouts/"+ns, bob)
		return resp.StatusCode == http.StatusOK && strings.Contains(body, `data-name="web"`), fmt.Sprintf("%d %s", resp.StatusCode, body)
	})
	// The ServiceAccount's own token, given as a viewer's, reads nothing.
	token := serve(t, dashboard.Options{Identity: dashboard.Token, Namespace: ns, Config: shared.Config()})
	if resp, body := httpGet(t, token+"/rollouts/"+ns, http.Header{"Authorization": {"Bearer " + tr.Status.Token}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the dashboard's own ServiceAccount may list rollouts: %d\n%s", resp.StatusCode, body)
	}
}
