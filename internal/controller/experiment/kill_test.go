package experiment_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/controllerprocess"
)

// children are the UIDs of an experiment's ReplicaSets, AnalysisRuns and
// Services, by kind.
func children(t *testing.T, ns, exp string) map[string][]types.UID {
	t.Helper()
	out := map[string][]types.UID{}
	var rss appsv1.ReplicaSetList
	if err := admin.List(t.Context(), &rss, client.InNamespace(ns), client.MatchingLabels{v1alpha1.ExperimentNameLabelKey: exp}); err != nil {
		t.Fatal(err)
	}
	for _, rs := range rss.Items {
		out["ReplicaSet"] = append(out["ReplicaSet"], rs.UID)
	}
	var runs v1alpha1.AnalysisRunList
	if err := admin.List(t.Context(), &runs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs.Items {
		out["AnalysisRun"] = append(out["AnalysisRun"], r.UID)
	}
	var svcs corev1.ServiceList
	if err := admin.List(t.Context(), &svcs, client.InNamespace(ns), client.MatchingLabels{v1alpha1.ExperimentNameLabelKey: exp}); err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.Items {
		out["Service"] = append(out["Service"], s.UID)
	}
	for _, uids := range out {
		slices.Sort(uids)
	}
	return out
}

// ramp-controller, as its own process, is killed (SIGKILL, at whatever
// line it is) right after an experiment is created and again while it
// runs; each time a new process carries on with the same ReplicaSets, the
// same run and the same Service, none duplicated, and the experiment ends
// Successful after its duration.
func TestExperimentSurvivesTheControllerKilled(t *testing.T) {
	k := newKPI(t, 1)
	ns := namespaceWithTemplate(t, k)
	dir := t.TempDir()
	incarnation := 0
	bin, err := controllerprocess.Build(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clustertest.InstallRBAC(shared.Config()); err != nil {
		t.Fatal(err)
	}
	if err := clustertest.WriteControllerKubeconfig(shared, kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("controller-%d.log", incarnation)))
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("the last controller's log ends:\n%s", strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	})
	start := func() *controllerprocess.Process {
		t.Helper()
		incarnation++
		p, err := controllerprocess.Start(t.Context(), bin, kubeconfig, filepath.Join(dir, fmt.Sprintf("controller-%d.log", incarnation)), "--leader-elect=false")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := start()
	t.Cleanup(func() { p.Stop() })

	canaryTpl := template("canary", nil)
	canaryTpl.Service = &v1alpha1.TemplateService{}
	exp := experiment(ns, "shop", v1alpha1.ExperimentSpec{
		Templates: []v1alpha1.TemplateSpec{template("baseline", nil), canaryTpl},
		Duration:  "20s", ScaleDownDelaySeconds: ptr.To[int32](0),
		Analyses: []v1alpha1.ExperimentAnalysisTemplateRef{{Name: "errors", TemplateName: "errors",
			Args: []v1alpha1.Argument{{Name: "hash", Value: ptr.To("{{templates.canary.podTemplateHash}}")}}}},
	})
	if err := admin.Create(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	// Killed as soon as the first ReplicaSet exists: mid-way through
	// creating the experiment's objects.
	clustertest.Eventually(t, 30*time.Second, "a ReplicaSet", func() (bool, string) {
		got := children(t, ns, "shop")
		return len(got["ReplicaSet"]) > 0, fmt.Sprint(got)
	})
	p.Kill()
	p = start()
	running := waitPhase(t, exp, v1alpha1.AnalysisPhaseRunning)
	var measured int32
	clustertest.Eventually(t, 30*time.Second, "two measurements", func() (bool, string) {
		run := &v1alpha1.AnalysisRun{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "shop-errors"}, run); err != nil {
			return false, err.Error()
		}
		for _, m := range run.Status.MetricResults {
			measured = m.Count
		}
		return measured >= 2, fmt.Sprint(measured)
	})
	before := children(t, ns, "shop")
	if len(before["ReplicaSet"]) != 2 || len(before["AnalysisRun"]) != 1 || len(before["Service"]) != 1 {
		t.Fatalf("before the kill: %v", before)
	}
	p.Kill()
	p = start()
	clustertest.Eventually(t, 30*time.Second, "more measurements in the same run", func() (bool, string) {
		run := &v1alpha1.AnalysisRun{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "shop-errors"}, run); err != nil {
			return false, err.Error()
		}
		n := int32(0)
		for _, m := range run.Status.MetricResults {
			n = m.Count
		}
		return n > measured, fmt.Sprint(n)
	})
	if after := children(t, ns, "shop"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after the restart: %v, before: %v", after, before)
	}
	done := waitPhase(t, exp, v1alpha1.AnalysisPhaseSuccessful)
	if !done.Status.AvailableAt.Equal(running.Status.AvailableAt) {
		t.Errorf("availableAt moved from %v to %v", running.Status.AvailableAt, done.Status.AvailableAt)
	}
	if got := done.Status.Conditions; len(got) != 1 {
		t.Errorf("conditions %+v: the end recorded more than once", got)
	}
}
