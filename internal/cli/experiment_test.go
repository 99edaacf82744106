package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cli"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

func experimentTemplate(name string) v1alpha1.TemplateSpec {
	labels := map[string]string{"app": "shop", "variant": name}
	return v1alpha1.TemplateSpec{
		Name: name, Replicas: ptr.To[int32](1),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "shop", Image: "example/shop:" + name, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			}}},
		},
	}
}

func experimentNow(t *testing.T, ns, name string) *v1alpha1.Experiment {
	t.Helper()
	ex := &v1alpha1.Experiment{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, ex); err != nil {
		t.Fatal(err)
	}
	return ex
}

// An Experiment through the CLI: get (golden tree), list, terminate,
// retry (new runs), and their refusals.
func TestExperimentThroughTheCLI(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	kpi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"errors": 1}`) }))
	t.Cleanup(kpi.Close)
	if err := admin.Create(t.Context(), &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "errors", Namespace: ns},
		Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{
			Name: "errors", Interval: "1h", SuccessCondition: "result < 10",
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: kpi.URL, JSONPath: "{.errors}"}},
		}}},
	}); err != nil {
		t.Fatal(err)
	}
	canary := experimentTemplate("canary")
	canary.Service = &v1alpha1.TemplateService{}
	if err := admin.Create(t.Context(), &v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns},
		Spec: v1alpha1.ExperimentSpec{
			Templates: []v1alpha1.TemplateSpec{experimentTemplate("baseline"), canary},
			Duration:  "1h", ScaleDownDelaySeconds: ptr.To[int32](0),
			Analyses: []v1alpha1.ExperimentAnalysisTemplateRef{{Name: "errors", TemplateName: "errors"}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	var hashes []string
	eventually(t, "Running with one measurement", func() (bool, string) {
		ex := experimentNow(t, ns, "shop")
		hashes = hashes[:0]
		for _, ts := range ex.Status.TemplateStatuses {
			hashes = append(hashes, ts.PodTemplateHash)
		}
		run := &v1alpha1.AnalysisRun{}
		err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "shop-errors"}, run)
		return ex.Status.Phase == v1alpha1.AnalysisPhaseRunning && err == nil && len(run.Status.MetricResults) == 1 && run.Status.MetricResults[0].Count == 1,
			fmt.Sprint(ex.Status.Phase, err)
	})
	got := normalise(mustRamp(t, ns, "get", "experiment", "shop"), ns, hashes...)
	got = regexp.MustCompile(`(shop-(baseline|canary))-[a-z0-9]{5}\b`).ReplaceAllString(got, "$1-xxxxx") // pods
	golden(t, "experiment-running.txt", got)
	list := normalise(mustRamp(t, ns, "list", "experiments"), ns)
	if !strings.Contains(list, "shop  Running  2  1  AGE  -  AGE") {
		t.Errorf("list experiments:\n%s", list)
	}
	firstRun := func() types.UID {
		run := &v1alpha1.AnalysisRun{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "shop-errors"}, run); err != nil {
			t.Fatal(err)
		}
		return run.UID
	}()
	_, err := ramp(t, ns, "retry", "experiment", "shop")
	expectError(t, err, `experiment "shop" is Running: only a finished experiment can be retried`)

	// -w redraws it as it changes: here, when it is terminated.
	var watched syncBuffer
	cmd := cli.New("ramp", cli.Options{Out: &watched, Err: &watched})
	cmd.SetArgs([]string{"--kubeconfig", kubeconfig, "-n", ns, "get", "experiment", "shop", "-w"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	eventually(t, "first drawing", func() (bool, string) {
		return regexp.MustCompile(`Status:\s+Running`).MatchString(watched.String()), watched.String()
	})
	expectLine(t, mustRamp(t, ns, "terminate", "experiment", "shop"), `experiment "shop" terminated`)
	eventually(t, "redrawn when it ended", func() (bool, string) {
		return regexp.MustCompile(`Status:\s+Successful`).MatchString(watched.String()), watched.String()
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("interrupted watch: %v", err)
	}
	eventually(t, "Successful, scaled down", func() (bool, string) {
		ex := experimentNow(t, ns, "shop")
		up := int32(0)
		for _, ts := range ex.Status.TemplateStatuses {
			up += ts.Replicas
		}
		return ex.Status.Phase == v1alpha1.AnalysisPhaseSuccessful && up == 0, fmt.Sprint(ex.Status.Phase, " ", up)
	})
	_, err = ramp(t, ns, "terminate", "experiment", "shop")
	expectError(t, err, `experiment "shop" has already finished (Successful)`)

	expectLine(t, mustRamp(t, ns, "retry", "experiment", "shop"), `experiment "shop" retried`)
	eventually(t, "Running again with a new run", func() (bool, string) {
		ex := experimentNow(t, ns, "shop")
		run := &v1alpha1.AnalysisRun{}
		err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "shop-errors"}, run)
		return ex.Status.Phase == v1alpha1.AnalysisPhaseRunning && !ex.Spec.Terminate && err == nil && run.UID != firstRun && run.Status.Phase == v1alpha1.AnalysisPhaseRunning,
			fmt.Sprint(ex.Status.Phase, " ", ex.Spec.Terminate, " ", err)
	})
	_, err = ramp(t, ns, "get", "experiment", "nope")
	expectError(t, err, `experiment "nope" not found in namespace "`+ns+`"`)
}

// A canary's experiment step shows in `get rollout` under its revision,
// and is the rollout's to retry.
func TestRolloutExperimentInTheTree(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example/web:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetWeight: ptr.To[int32](50)},
				{Experiment: &v1alpha1.RolloutExperimentStep{Duration: "1h", Templates: []v1alpha1.RolloutExperimentTemplate{
					{Name: "baseline", SpecRef: v1alpha1.StableSpecRef}, {Name: "canary", SpecRef: v1alpha1.CanarySpecRef},
				}}},
			}}},
		},
	}
	if err := admin.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Healthy", func() (bool, string) {
		r := rollout(t, ns, "web")
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy, string(r.Status.Phase)
	})
	mustRamp(t, ns, "set", "image", "web", "web=example/web:2")
	var name string
	eventually(t, "the step's experiment Running", func() (bool, string) {
		name = rollout(t, ns, "web").Status.Canary.CurrentExperiment
		if name == "" {
			return false, "no current experiment"
		}
		ex := experimentNow(t, ns, name)
		return ex.Status.Phase == v1alpha1.AnalysisPhaseRunning, string(ex.Status.Phase)
	})
	tree := normalise(mustRamp(t, ns, "get", "rollout", "web"), ns)
	for _, want := range []string{
		"│  └──" + normalise(name, ns) + "  Experiment  Running  AGE",
		"│     ├──" + normalise(name, ns) + "-baseline  ReplicaSet  Healthy  AGE  template:baseline",
		"│     └──" + normalise(name, ns) + "-canary  ReplicaSet  Healthy  AGE  template:canary",
	} {
		if !strings.Contains(tree, want) {
			t.Errorf("get rollout lacks %q:\n%s", want, tree)
		}
	}
	_, err := ramp(t, ns, "retry", "experiment", name)
	expectError(t, err, fmt.Sprintf(`experiment %q is a step of rollout "web": retry the rollout`, name))
}
