package cli_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// A script written for `kubectl argo rollouts` runs with Ramp's CLI by
// changing only the plugin's name (testdata/argo-script/script.sh says how
// it is read).
func TestArgoGrammarScript(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	kpi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"errors": 1}`)
	}))
	t.Cleanup(kpi.Close)
	dir, err := filepath.Abs("testdata/argo-script")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(dir, "script.sh"))
	if err != nil {
		t.Fatal(err)
	}
	const plugin = "kubectl argo rollouts "
	var out string
	var runErr error
	var last string
	ran := 0
	for n, line := range strings.Split(string(script), "\n") {
		line = strings.TrimSpace(strings.NewReplacer("$DIR", dir, "$WEB", kpi.URL).Replace(line))
		at := fmt.Sprintf("script.sh:%d", n+1)
		switch {
		case strings.HasPrefix(line, plugin):
			last = line
			out, runErr = ramp(t, ns, strings.Fields(strings.TrimPrefix(line, plugin))...)
			ran++
			if runErr != nil && !strings.HasPrefix(nextLine(script, n), "#fails:") {
				t.Fatalf("%s: %s: %v\n%s", at, line, runErr, out)
			}
		case strings.HasPrefix(line, "#>"):
			if want := strings.TrimSpace(line[2:]); !strings.Contains(out, want) {
				t.Fatalf("%s: %s printed\n%s\nwant %q in it", at, last, out, want)
			}
		case strings.HasPrefix(line, "#fails:"):
			if want := strings.TrimSpace(strings.TrimPrefix(line, "#fails:")); runErr == nil || !strings.Contains(runErr.Error(), want) {
				t.Fatalf("%s: %s: error %v, want one saying %q", at, last, runErr, want)
			}
		case strings.HasPrefix(line, "#wait "):
			waitFor(t, ns, at, strings.Fields(line)[1:])
		case line == "" || strings.HasPrefix(line, "#") || line == "set -e":
		default:
			t.Fatalf("%s: not a plugin command: %s", at, line)
		}
	}
	if ran < 25 {
		t.Fatalf("ran %d commands: the script was not read", ran)
	}
}

// nextLine is the line after line n of the script.
func nextLine(script []byte, n int) string {
	lines := strings.Split(string(script), "\n")
	if n+1 < len(lines) {
		return strings.TrimSpace(lines[n+1])
	}
	return ""
}

// waitFor waits for a rollout's phase, and optionally its step index and
// the image of its current version: #wait NAME PHASE [STEP [IMAGE]].
func waitFor(t *testing.T, ns, at string, args []string) {
	t.Helper()
	args = append(args, "-", "-")
	name, phase, step, image := args[0], v1alpha1.RolloutPhase(args[1]), args[2], args[3]
	eventually(t, at+": #wait "+strings.Join(args[:4], " "), func() (bool, string) {
		ro := &v1alpha1.Rollout{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
			return false, err.Error()
		}
		ok := ro.Status.Phase == phase && ro.Status.ObservedGeneration == fmt.Sprint(ro.Generation)
		if step != "-" {
			ok = ok && fmt.Sprint(ptr.Deref(ro.Status.CurrentStepIndex, -1)) == step
		}
		got := ""
		if image != "-" {
			got = currentImage(t, ns, ro.Status.CurrentPodHash)
			ok = ok && got == image
		}
		return ok, fmt.Sprintf("%s at step %v (%s), image %q", ro.Status.Phase, ptr.Deref(ro.Status.CurrentStepIndex, -1), ro.Status.Message, got)
	})
}

// currentImage is the image of the ReplicaSet with the pod-template hash.
func currentImage(t *testing.T, ns, hash string) string {
	var list appsv1.ReplicaSetList
	if err := admin.List(t.Context(), &list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.DefaultRolloutUniqueLabelKey: hash}); err != nil || len(list.Items) != 1 {
		return fmt.Sprintf("%d ReplicaSets (%v)", len(list.Items), err)
	}
	return list.Items[0].Spec.Template.Spec.Containers[0].Image
}
