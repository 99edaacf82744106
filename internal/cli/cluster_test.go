package cli_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cli"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the commands' output")

var (
	shared     *cluster.Cluster
	admin      client.Client
	kubeconfig string
)

// TestMain runs one cluster with ramp-controller (and its AnalysisRun
// controller) for every test, and writes its kubeconfig for the CLI.
func TestMain(m *testing.M) {
	flag.Parse()
	clustertest.Main(m, app.Scheme(), nil, func(s clustertest.Shared) {
		shared, admin = s.Cluster, s.Admin
		dir, err := os.MkdirTemp("", "ramp-cli-test")
		if err == nil {
			var b []byte
			if b, err = shared.Kubeconfig(); err == nil {
				kubeconfig = filepath.Join(dir, "kubeconfig")
				err = os.WriteFile(kubeconfig, b, 0o600)
			}
		}
		opts := app.Options{SkipControllerNameValidation: true}
		if err == nil {
			err = clustertest.InstallRBAC(shared.Config())
		}
		mgr, err2 := app.NewManager(clustertest.AsController(shared.Config()), opts)
		if err == nil {
			err = err2
		}
		if err == nil {
			err = app.Setup(mgr, opts)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() { _ = mgr.Start(context.Background()) }()
	})
}

// ramp runs the CLI as a user would in namespace ns (plain output, as when
// piped) and returns what it printed and its error.
func ramp(t *testing.T, ns string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &errOut})
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...))
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String() + errOut.String(), err
}

func mustRamp(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := ramp(t, ns, args...)
	if err != nil {
		t.Fatalf("ramp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func expectLine(t *testing.T, got, want string) {
	t.Helper()
	if strings.TrimSpace(got) != want {
		t.Errorf("printed %q, want %q", got, want)
	}
}

func expectError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

// normalise replaces what changes from run to run (hashes, pod-name
// suffixes, ages, namespace) and collapses column padding, so output can be
// compared with a golden file.
func normalise(out, ns string, hashes ...string) string {
	out = strings.ReplaceAll(out, ns, "NAMESPACE")
	for i, h := range hashes {
		out = strings.ReplaceAll(out, h, fmt.Sprintf("HASH%d", i+1))
	}
	out = regexp.MustCompile(`(HASH\d)-[a-z0-9]{5}\b`).ReplaceAllString(out, "$1-xxxxx")
	out = regexp.MustCompile(`\b\d+(s|m|h|d)(\d+s)?\b`).ReplaceAllString(out, "AGE")
	// Column padding, not the tree's indentation.
	out = regexp.MustCompile(`([^\s│├└─]) {2,}`).ReplaceAllString(out, "$1  ")
	return regexp.MustCompile(` +\n`).ReplaceAllString(out, "\n")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it):\n--- got\n%s\n--- want\n%s", file, t.Name(), got, want)
	}
}

func rollout(t *testing.T, ns, name string) *v1alpha1.Rollout {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
		t.Fatal(err)
	}
	return ro
}

// A canary driven with the CLI alone: create, status, set image, status
// --until paused, get (golden), list, the actions and their refusals.
func TestCanaryThroughTheCLI(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	out := mustRamp(t, ns, "create", "-f", "testdata/canary.yaml")
	expectLine(t, out, "service \"web\" created\nrollout \"web\" created")
	mustRamp(t, ns, "status", "web", "--timeout", "60s")
	v1 := rollout(t, ns, "web").Status.StableRS
	// Healthy, a canary without traffic routing shows its steps done and the
	// full weight, as Argo's plugin does.
	if out := mustRamp(t, ns, "get", "rollout", "web"); !regexp.MustCompile(`\n  Step:\s+4/4\n  SetWeight:\s+100\n  ActualWeight:\s+100\n`).MatchString(out) {
		t.Errorf("a Healthy canary's steps and weights:\n%s", out)
	}

	_, err := ramp(t, ns, "promote", "web")
	expectError(t, err, `rollout "web" is Healthy with no update in progress: nothing to promote`)
	_, err = ramp(t, ns, "abort", "web")
	expectError(t, err, "nothing to abort")
	_, err = ramp(t, ns, "get", "rollout", "nope")
	expectError(t, err, `rollout "nope" not found in namespace "`+ns+`"`)
	_, err = ramp(t, ns, "set", "image", "web", "sidecar=x:1")
	expectError(t, err, `rollout "web" has no container "sidecar"`)

	expectLine(t, mustRamp(t, ns, "set", "image", "web", "app=example/web:2"), `rollout "web" image updated: app=example/web:2`)
	out = mustRamp(t, ns, "status", "web", "--until", "paused", "--timeout", "60s")
	if !strings.Contains(out, "\nPaused: CanaryPauseStep") {
		t.Errorf("status --until paused printed:\n%s", out)
	}
	v2 := rollout(t, ns, "web").Status.CurrentPodHash
	golden(t, "canary-paused.txt", normalise(mustRamp(t, ns, "get", "rollout", "web"), ns, v1, v2))
	golden(t, "canary-list.txt", normalise(mustRamp(t, ns, "list", "rollouts"), ns, v1, v2))
	if out := mustRamp(t, ns, "get", "rollout", "web", "-o", "json"); !strings.Contains(out, `"name": "web"`) || strings.Contains(out, "managedFields") {
		t.Errorf("-o json:\n%s", out)
	}

	expectLine(t, mustRamp(t, ns, "promote", "web"), `rollout "web" promoted: the pause ends`)
	eventually(t, "at the timed pause", func() (bool, string) {
		ro := rollout(t, ns, "web")
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && ptrInt(ro.Status.CurrentStepIndex) == 3, string(ro.Status.Phase)
	})
	if out := mustRamp(t, ns, "get", "rollout", "web"); !regexp.MustCompile(`\n  Pause:\s+(59m|60m) left\n`).MatchString(out) {
		t.Errorf("a timed pause does not show its time left:\n%s", out)
	}

	expectLine(t, mustRamp(t, ns, "abort", "web"), `rollout "web" aborted`)
	_, err = ramp(t, ns, "status", "web", "--timeout", "60s")
	if !errors.Is(err, cli.ErrDegraded) {
		t.Errorf("status of an aborted rollout: %v", err)
	}
	expectLine(t, mustRamp(t, ns, "retry", "web"), `rollout "web" retried`)
	expectLine(t, mustRamp(t, ns, "promote", "web", "--full"), `rollout "web" fully promoted`)
	mustRamp(t, ns, "status", "web", "--timeout", "60s")
	if ro := rollout(t, ns, "web"); ro.Status.StableRS != v2 {
		t.Errorf("stable %s after promote --full, want %s", ro.Status.StableRS, v2)
	}

	expectLine(t, mustRamp(t, ns, "undo", "web"), `rollout "web" rolled back to revision 1`)
	mustRamp(t, ns, "status", "web", "--until", "paused", "--timeout", "60s")
	if ro := rollout(t, ns, "web"); ro.Status.CurrentPodHash != v1 {
		t.Errorf("undo went to %s, want revision 1 (%s)", ro.Status.CurrentPodHash, v1)
	}
	_, err = ramp(t, ns, "undo", "web", "--to-revision", "9")
	expectError(t, err, `rollout "web" has no revision 9`)

	expectLine(t, mustRamp(t, ns, "pause", "web"), `rollout "web" paused`)
	_, err = ramp(t, ns, "pause", "web")
	expectError(t, err, "already paused")
	expectLine(t, mustRamp(t, ns, "resume", "web"), `rollout "web" resumed`)
	if out := mustRamp(t, ns, "restart", "web", "--in", "1h"); !strings.HasPrefix(out, `rollout "web" restarts at `) {
		t.Errorf("restart --in 1h: %q", out)
	}
	if ro := rollout(t, ns, "web"); ro.Spec.RestartAt == nil || time.Until(ro.Spec.RestartAt.Time) < 59*time.Minute {
		t.Errorf("restartAt %v", ro.Spec.RestartAt)
	}
}

// A blue/green rollout waiting for promotion, shown (golden) and promoted.
func TestBlueGreenThroughTheCLI(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	mustRamp(t, ns, "create", "-f", "testdata/bluegreen.yaml")
	mustRamp(t, ns, "status", "shop", "--timeout", "60s")
	v1 := rollout(t, ns, "shop").Status.StableRS
	mustRamp(t, ns, "set", "image", "shop", "app=example/shop:2")
	mustRamp(t, ns, "status", "shop", "--until", "paused", "--timeout", "60s")
	v2 := rollout(t, ns, "shop").Status.CurrentPodHash
	golden(t, "bluegreen-paused.txt", normalise(mustRamp(t, ns, "get", "rollout", "shop"), ns, v1, v2))
	expectLine(t, mustRamp(t, ns, "promote", "shop"), `rollout "shop" promoted: the pause ends`)
	mustRamp(t, ns, "status", "shop", "--timeout", "60s")
	out := mustRamp(t, ns, "status", "shop", "-o", "yaml")
	if !strings.Contains(out, "phase: Healthy") || !strings.Contains(out, "stableRS: "+v2) {
		t.Errorf("status -o yaml:\n%s", out)
	}
}

func TestStatusTimesOut(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	mustRamp(t, ns, "create", "-f", "testdata/canary.yaml")
	mustRamp(t, ns, "status", "web", "--timeout", "60s")
	mustRamp(t, ns, "set", "image", "web", "app=example/web:2")
	_, err := ramp(t, ns, "status", "web", "--timeout", "2s")
	if !errors.Is(err, cli.ErrTimeout) || !strings.Contains(err.Error(), `rollout "web" is still`) {
		t.Errorf("status at an indefinite pause with --timeout 2s: %v", err)
	}
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	clustertest.Eventually(t, 60*time.Second, what, cond)
}

func ptrInt(p *int32) int32 {
	if p == nil {
		return -1
	}
	return *p
}

// An AnalysisRun started from a template with an argument, shown, and
// terminated.
func TestAnalysisRunThroughTheCLI(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	kpi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"errors": %d}`, len(r.URL.Query().Get("service")))
	}))
	t.Cleanup(kpi.Close)
	manifest := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: ramp.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: errors}
spec:
  args: [{name: service}]
  metrics:
  - name: errors
    interval: 1h
    successCondition: result < 10
    provider:
      web: {url: "`+kpi.URL+`/?service={{args.service}}", jsonPath: "{.errors}"}
---
apiVersion: ramp.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: with-token}
spec:
  args: [{name: token, valueFrom: {secretKeyRef: {name: kpi, key: token}}}]
  metrics:
  - name: errors
    provider:
      web: {url: "`+kpi.URL+`/", headers: [{key: Authorization, value: "Bearer {{args.token}}"}]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRamp(t, ns, "create", "-f", manifest)
	// A secret argument comes from its Secret, never from the command line
	// (it would be stored in the run's spec).
	_, err := ramp(t, ns, "create", "analysisrun", "--from", "with-token", "--argument", "token=hunter2")
	expectError(t, err, `--argument token: template "with-token" declares "token" as a secret (valueFrom.secretKeyRef kpi/token)`)
	expectLine(t, mustRamp(t, ns, "create", "analysisrun", "--from", "errors", "--name", "check", "--argument", "service=web"), `analysisrun "check" created from template "errors"`)
	_, err = ramp(t, ns, "create", "analysisrun", "--from", "errors", "--name", "check2")
	expectError(t, err, `template "errors" needs argument "service": pass --argument service=VALUE`)
	eventually(t, "one measurement", func() (bool, string) {
		run := &v1alpha1.AnalysisRun{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "check"}, run); err != nil {
			t.Fatal(err)
		}
		return len(run.Status.MetricResults) == 1 && run.Status.MetricResults[0].Count == 1, fmt.Sprint(run.Status.MetricResults)
	})
	golden(t, "analysisrun-running.txt", normalise(mustRamp(t, ns, "get", "analysisrun", "check"), ns))
	expectLine(t, mustRamp(t, ns, "terminate", "analysisrun", "check"), `analysisrun "check" terminated`)
	eventually(t, "terminated", func() (bool, string) {
		run := &v1alpha1.AnalysisRun{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "check"}, run); err != nil {
			t.Fatal(err)
		}
		return run.Status.Phase.Completed(), string(run.Status.Phase)
	})
	_, err = ramp(t, ns, "terminate", "analysisrun", "check")
	expectError(t, err, `analysisrun "check" has already finished`)
}

// requests records the API requests the CLI makes.
type requests struct {
	mu   sync.Mutex
	urls []string
}

func (r *requests) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		r.mu.Lock()
		r.urls = append(r.urls, req.Method+" "+req.URL.RequestURI())
		r.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// getRollout runs `ramp get rollout name` in ns and returns the requests
// it made.
func getRollout(tb testing.TB, ns, name string) []string {
	rec := &requests{}
	var out bytes.Buffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &out, WrapTransport: rec.wrap})
	cmd.SetArgs([]string{"--kubeconfig", kubeconfig, "-n", ns, "get", "rollout", name})
	if err := cmd.Execute(); err != nil {
		tb.Fatalf("%v\n%s", err, out.String())
	}
	return rec.urls
}

// `get rollout` asks only for what belongs to the rollout: every list has
// a label selector; the namespace is never listed whole.
func TestGetRolloutListsOnlyWhatIsItsOwn(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	mustRamp(t, ns, "create", "-f", "testdata/canary.yaml")
	mustRamp(t, ns, "status", "web", "--timeout", "60s")
	urls := getRollout(t, ns, "web")
	lists := 0
	for _, u := range urls {
		// Discovery (/api, /apis) aside, every read is the rollout itself or
		// a list by label.
		if strings.HasPrefix(u, "GET") && strings.Contains(u, "/namespaces/") && !strings.Contains(u, "/rollouts/web") {
			lists++
			if !strings.Contains(u, "labelSelector=") {
				t.Errorf("a request without a label selector: %s", u)
			}
		}
	}
	if lists != 3 {
		t.Errorf("%d requests, %d lists:\n%s", len(urls), lists, strings.Join(urls, "\n"))
	}
}

// BenchmarkGetRolloutAmong10000Objects times `ramp get rollout` for a
// rollout whose namespace also holds 10,000 unrelated pods and 10,000
// unrelated ReplicaSets (Argo Rollouts' users' issue #1711: 40 s).
func BenchmarkGetRolloutAmong10000Objects(b *testing.B) {
	ns := "bench-get-rollout"
	ctx := context.Background()
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 10000; i += 8 {
				// Pods on a node nobody runs, ReplicaSets of 0 that select
				// none of them: nothing in the cluster acts on either.
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("other-%d", i), Namespace: ns, Labels: map[string]string{"pod": fmt.Sprint(i)}},
					Spec: corev1.PodSpec{NodeName: "elsewhere", Containers: []corev1.Container{{Name: "a", Image: "a"}}}}
				labels := map[string]string{"rs": fmt.Sprint(i)}
				rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("other-%d", i), Namespace: ns, Labels: labels},
					Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: labels},
						Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod.Spec}}}
				for _, o := range []client.Object{pod, rs} {
					if err := admin.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	var out bytes.Buffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &out})
	cmd.SetArgs([]string{"--kubeconfig", kubeconfig, "-n", ns, "create", "-f", "testdata/canary.yaml"})
	if err := cmd.Execute(); err != nil && !strings.Contains(out.String()+err.Error(), "already exists") {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		getRollout(b, ns, "web")
	}
}

// A user without the permission gets a message that says so, and a
// non-zero exit.
func TestActionsWithoutPermission(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	mustRamp(t, ns, "create", "-f", "testdata/canary.yaml")
	_, err := ramp(t, ns, "--as", "nobody", "pause", "web")
	expectError(t, err, `not allowed to read rollout "web" in namespace "`+ns+`"`)
	_, err = ramp(t, ns, "--as", "nobody", "list", "rollouts")
	expectError(t, err, "forbidden")
}

// get rollout -w redraws when the rollout changes, until interrupted.
func TestGetRolloutWatch(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	mustRamp(t, ns, "create", "-f", "testdata/canary.yaml")
	mustRamp(t, ns, "status", "web", "--timeout", "60s")
	var out syncBuffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &out})
	cmd.SetArgs([]string{"--kubeconfig", kubeconfig, "-n", ns, "get", "rollout", "web", "-w"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	eventually(t, "first drawing", func() (bool, string) {
		return regexp.MustCompile(`Status:\s+Healthy`).MatchString(out.String()), out.String()
	})
	mustRamp(t, ns, "set", "image", "web", "app=example/web:2")
	eventually(t, "redrawn at the pause", func() (bool, string) {
		return regexp.MustCompile(`Status:\s+Paused`).MatchString(out.String()), out.String()
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("interrupted watch: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
