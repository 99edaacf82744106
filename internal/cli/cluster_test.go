package cli_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
		mgr, err2 := app.NewManager(shared.Config(), opts)
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
