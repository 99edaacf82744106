package dashboard_test

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/dashboard"
	"github.com/rampdev/ramp/internal/operate"
)

var stateField = regexp.MustCompile(`action="([^"]+)/promote"><input type="hidden" name="state" value="([^"]+)"`)

// An action carries the state its page showed: once the rollout has moved
// on, the button is refused and nothing changes; writes need the page's
// CSRF token and a same-site request.
func TestActionsAreDecidedOnWhatThePageShowed(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	create(t, canary(ns, "web"))
	setImage(t, ns, "web", "example/app:2")
	pausedAt(t, ns, "web", 1)
	base := serve(t, dashboard.Options{Namespace: ns})

	resp, body := httpGet(t, base+"/rollouts/"+ns+"/web", nil)
	m := stateField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("the rollout page (%d) has no promote form with a state:\n%s", resp.StatusCode, body)
	}
	seen := m[2]
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	// Refused writes: from another site, without the token, with a bad state.
	req := func(mutate func(*http.Request)) (*http.Response, string) {
		r, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/rollouts/"+ns+"/web/promote", strings.NewReader(url.Values{"state": {seen}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		const tok = "0123456789abcdef0123456789abcdef0123456789abcdef"
		r.AddCookie(&http.Cookie{Name: "ramp_csrf", Value: tok})
		r.Header.Set("X-CSRF-Token", tok)
		mutate(r)
		return do(t, r)
	}
	for name, mutate := range map[string]func(*http.Request){
		"cross-site":    func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"other origin":  func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") },
		"no CSRF token": func(r *http.Request) { r.Header.Del("X-CSRF-Token") },
		"wrong token":   func(r *http.Request) { r.Header.Set("X-CSRF-Token", strings.Repeat("x", 48)) },
	} {
		if resp, body := req(mutate); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "refused") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	if resp, body := httpPostAction(t, base, ns, "web", "promote", "not-a-state"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "reload the page") {
		t.Errorf("an unreadable state: %d %s", resp.StatusCode, body)
	}
	if resp, body := httpPostAction(t, base, ns, "web", "explode", seen); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `no action "explode"`) {
		t.Errorf("an unknown action: %d %s", resp.StatusCode, body)
	}
	if ro := get(t, ns, "web"); ptr.Deref(ro.Status.CurrentStepIndex, -1) != 1 {
		t.Fatalf("a refused write moved the rollout to step %d", ptr.Deref(ro.Status.CurrentStepIndex, -1))
	}

	// Someone else promotes; the page's button, pressed on what it showed,
	// is refused: the rollout is not promoted twice.
	rampCLI(t, ns, "promote", "web")
	pausedAt(t, ns, "web", 3)
	if resp, body := httpPostAction(t, base, ns, "web", "promote", seen); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "moved on (step 1 to step 3)") {
		t.Errorf("a promote on a stale page: %d %s", resp.StatusCode, body)
	}
	if ro := get(t, ns, "web"); ptr.Deref(ro.Status.CurrentStepIndex, -1) != 3 || ro.Status.Phase != v1alpha1.RolloutPhasePaused {
		t.Errorf("the stale promote moved the rollout: step %d, %s", ptr.Deref(ro.Status.CurrentStepIndex, -1), ro.Status.Phase)
	}
	// The page's state, read again, promotes.
	_, body = httpGet(t, base+"/rollouts/"+ns+"/web", nil)
	if resp, out := httpPostAction(t, base, ns, "web", "promote", stateField.FindStringSubmatch(body)[2]); resp.StatusCode != http.StatusOK || out != `rollout "web" promoted: the pause ends` {
		t.Errorf("a promote on a fresh page: %d %s", resp.StatusCode, out)
	}
}

// The UI works offline: every asset is served by the binary, none is
// fetched from elsewhere.
func TestAssetsAreServedByTheBinary(t *testing.T) {
	base := serve(t, dashboard.Options{})
	for _, p := range []string{"/static/app.css", "/static/app.js"} {
		if resp, body := httpGet(t, base+p, nil); resp.StatusCode != http.StatusOK || len(body) < 100 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	external := regexp.MustCompile(`(src|href)="(https?:)?//`)
	err := filepath.WalkDir("assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && (external.Match(b) || strings.Contains(string(b), "@import url(http")) {
			t.Errorf("%s loads something from another site", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, r *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// The viewer and operator Roles docs/dashboard.md gives, as written there:
// the viewer sees the revisions and may not promote; the operator promotes
// and sets an image.
func TestDocumentedViewerRoles(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	create(t, canary(ns, "web"))
	setImage(t, ns, "web", "example/app:2")
	pausedAt(t, ns, "web", 1)
	doc, err := os.ReadFile("../../docs/dashboard.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		role := &rbacv1.Role{}
		if err := yaml.UnmarshalStrict([]byte(block[1]), role); err != nil || role.Kind != "Role" {
			continue
		}
		role.Namespace = ns
		if err := admin.Create(t.Context(), role); err != nil {
			t.Fatal(err)
		}
	}
	viewer := http.Header{"Authorization": {"Bearer " + saToken(t, ns, "viewer", "ramp-viewer", false)}}
	operator := http.Header{"Authorization": {"Bearer " + saToken(t, ns, "operator", "ramp-operator", false)}}
	base := serve(t, dashboard.Options{Identity: dashboard.Token, Namespace: ns, Config: shared.Config()})

	var state string
	clustertest.Eventually(t, 30*time.Second, "the viewer sees the revisions", func() (bool, string) {
		resp, body := httpGet(t, base+"/rollouts/"+ns+"/web", viewer)
		if m := stateField.FindStringSubmatch(body); m != nil {
			state = m[2]
		}
		return resp.StatusCode == http.StatusOK && strings.Contains(body, "Revision 2") && !strings.Contains(body, "Revisions are not shown"), body
	})
	if resp, body := httpPost(t, base, ns, "web", "promote", url.Values{"state": {state}}, viewer); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Not allowed") {
		t.Errorf("the viewer's promote: %d %s", resp.StatusCode, body)
	}
	clustertest.Eventually(t, 30*time.Second, "the operator promotes", func() (bool, string) {
		resp, body := httpPost(t, base, ns, "web", "promote", url.Values{"state": {state}}, operator)
		return resp.StatusCode == http.StatusOK && body == `rollout "web" promoted: the pause ends`, fmt.Sprintf("%d %s", resp.StatusCode, body)
	})
	ro := pausedAt(t, ns, "web", 3)
	if resp, body := httpPost(t, base, ns, "web", "set-image", url.Values{"state": {operate.StateOf(ro).Token()}, "container": {"app"}, "image": {"example/app:3"}}, operator); resp.StatusCode != http.StatusOK || body != `rollout "web" image updated: app=example/app:3` {
		t.Errorf("the operator's set image: %d %s", resp.StatusCode, body)
	}
	ro = pausedAt(t, ns, "web", 1) // the new revision's first pause, as a page would show it
	if img := ro.Spec.Template.Spec.Containers[0].Image; img != "example/app:3" {
		t.Errorf("image %s after set image", img)
	}
	// Undo to revision 1, picked on the page, as the CLI's undo --to-revision.
	if resp, body := httpPost(t, base, ns, "web", "undo", url.Values{"state": {operate.StateOf(ro).Token()}, "revision": {"1"}}, operator); resp.StatusCode != http.StatusOK || body != `rollout "web" rolled back to revision 1` {
		t.Errorf("the operator's undo: %d %s", resp.StatusCode, body)
	}
	if img := get(t, ns, "web").Spec.Template.Spec.Containers[0].Image; img != "example/app:1" {
		t.Errorf("image %s after undo to revision 1", img)
	}
}
