package argocd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/config/argocd"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

var cl client.Client

// TestMain runs one cluster and one controller, as its ServiceAccount, with
// every reconciler (rollouts, analysis, experiments).
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shared, err := cluster.Start(ctx, cluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the cluster:", err)
		return 1
	}
	defer shared.Stop()
	if err := clustertest.InstallRBAC(shared.Config()); err != nil {
		fmt.Fprintln(os.Stderr, "installing the controller's roles:", err)
		return 1
	}
	opts := app.Options{SkipControllerNameValidation: true}
	mgr, err := app.NewManager(clustertest.AsController(shared.Config()), opts)
	if err == nil {
		err = app.Setup(mgr, opts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the controller:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() { cancel(); <-done }()
	if cl, err = client.New(shared.Config(), client.Options{Scheme: app.Scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// kube is one object of kind in the test's namespace, read and changed as
// Argo CD reads and changes it: as unstructured JSON.
type kube struct {
	t        *testing.T
	kind, ns string
	name     string
}

func (k *kube) get() map[string]any {
	k.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(k.kind))
	if err := cl.Get(k.t.Context(), client.ObjectKey{Namespace: k.ns, Name: k.name}, u); err != nil {
		k.t.Fatal(err)
	}
	return u.Object
}

// health runs the kind's health.lua on the live object.
func (k *kube) health(obj map[string]any) (status, message string) {
	k.t.Helper()
	script, err := argocd.Health(k.kind)
	if err != nil {
		k.t.Fatal(err)
	}
	out, err := run(script, obj)
	if err != nil {
		k.t.Fatalf("%s health.lua: %v", k.kind, err)
	}
	hs, _ := out.(map[string]any)
	status, _ = hs["status"].(string)
	message, _ = hs["message"].(string)
	return status, message
}

// waitHealth waits until health.lua says status (of a rollout, once the
// controller has observed its generation), and returns the object it
// judged.
func (k *kube) waitHealth(status string) map[string]any {
	k.t.Helper()
	var obj map[string]any
	clustertest.Eventually(k.t, 60*time.Second, k.kind+" "+k.name+" health "+status, func() (bool, string) {
		obj = k.get()
		got, msg := k.health(obj)
		if k.kind == "Rollout" && str(obj, "status", "observedGeneration") != str(obj, "metadata", "generation") {
			// Judged on a status the controller wrote for this spec.
			return false, "generation not observed yet; " + got + ": " + msg
		}
		return got == status, got + ": " + msg
	})
	return obj
}

// enabled is the actions discovery.lua enables on the live object.
func (k *kube) enabled() []string {
	k.t.Helper()
	script, ok, err := argocd.Discovery(k.kind)
	if err != nil || !ok {
		k.t.Fatalf("%s discovery.lua: %v", k.kind, err)
	}
	out, err := run(script, k.get())
	if err != nil {
		k.t.Fatalf("%s discovery.lua: %v", k.kind, err)
	}
	actions, _ := out.(map[string]any)
	var on []string
	names, _ := argocd.Actions(k.kind)
	for _, name := range names {
		a, ok := actions[name].(map[string]any)
		if !ok {
			k.t.Fatalf("discovery.lua says nothing of %s", name)
		}
		if a["disabled"] != true {
			on = append(on, name)
		}
	}
	return on
}

func (k *kube) wantEnabled(want ...string) {
	k.t.Helper()
	if got := k.enabled(); strings.Join(got, " ") != strings.Join(want, " ") {
		k.t.Fatalf("%s %s: actions enabled %v, want %v", k.kind, k.name, got, want)
	}
}

// act runs action.lua as Argo CD does: on the live object, then a JSON
// merge patch from the live object to the result; a patch that touches
// status goes whole to the status subresource first, and its other part
// as a plain patch.
func (k *kube) act(action string) {
	k.t.Helper()
	if !strings.Contains(" "+strings.Join(k.enabled(), " ")+" ", " "+action+" ") {
		k.t.Fatalf("%s %s: %s is not enabled", k.kind, k.name, action)
	}
	script, err := argocd.Action(k.kind, action)
	if err != nil {
		k.t.Fatal(err)
	}
	live := k.get()
	changed, err := runAction(script, runtime.DeepCopyJSON(live))
	if err != nil {
		k.t.Fatalf("%s action.lua: %v", action, err)
	}
	before, _ := json.Marshal(live)
	after, _ := json.Marshal(changed)
	patch, err := jsonpatch.CreateMergePatch(before, after)
	if err != nil {
		k.t.Fatal(err)
	}
	var parts map[string]any
	if err := json.Unmarshal(patch, &parts); err != nil {
		k.t.Fatal(err)
	}
	if len(parts) == 0 {
		k.t.Fatalf("%s changed nothing", action)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(k.kind))
	u.SetNamespace(k.ns)
	u.SetName(k.name)
	ctx := k.t.Context()
	if _, ok := parts["status"]; ok {
		if err := cl.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)); err != nil {
			k.t.Fatalf("%s: status patch %s: %v", action, patch, err)
		}
		delete(parts, "status")
		if len(parts) == 0 {
			return
		}
		patch, _ = json.Marshal(parts)
	}
	if err := cl.Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)); err != nil {
		k.t.Fatalf("%s: patch %s: %v", action, patch, err)
	}
}

func str(obj map[string]any, path ...string) string {
	v, _, _ := unstructured.NestedFieldNoCopy(obj, path...)
	return fmt.Sprint(v)
}

// A canary walked through every phase by Argo CD's actions alone: the
// health check follows the controller's status.phase, discovery enables
// the actions that apply, and each action moves the real rollout.
func TestRolloutHealthAndActions(t *testing.T) {
	ctx := t.Context()
	ns := clustertest.Namespace(t, cl)
	kpi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"errors": 0}`) }))
	defer kpi.Close()
	// An analysis step that measures until terminated: the rollout is
	// Progressing while it runs.
	template := &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "errors"},
		Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{
			Name: "errors", Interval: "1s", Count: ptr.To(intstr.FromInt32(3600)), SuccessCondition: "result == 0",
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: kpi.URL, JSONPath: "{$.errors}"}},
		}}}}
	if err := cl.Create(ctx, template); err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/web:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetWeight: ptr.To[int32](50)},
				{Pause: &v1alpha1.RolloutPause{}},
				{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "errors"}}}},
			}}},
		},
	}
	if err := cl.Create(ctx, ro); err != nil {
		t.Fatal(err)
	}
	k := &kube{t: t, kind: "Rollout", ns: ns, name: "web"}
	setImage := func(image string) {
		t.Helper()
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Rollout"))
		u.SetNamespace(ns)
		u.SetName("web")
		patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image)
		if err := cl.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
	}
	sameAsStatus := func(obj map[string]any) {
		t.Helper()
		if _, msg := k.health(obj); msg != str(obj, "status", "message") && !(msg == "" && str(obj, "status", "message") == "<nil>") {
			t.Fatalf("health message %q, status.message %q", msg, str(obj, "status", "message"))
		}
	}

	healthy := k.waitHealth("Healthy")
	sameAsStatus(healthy)
	k.wantEnabled("restart")
	// A spec the controller has not observed yet is Progressing, whatever
	// the phase says; a workloadRef's generation counts too.
	for what, change := range map[string]func(obj map[string]any){
		"a newer generation": func(obj map[string]any) {
			_ = unstructured.SetNestedField(obj, int64(99), "metadata", "generation")
		},
		"a newer workload": func(obj map[string]any) {
			_ = unstructured.SetNestedField(obj, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "spec", "workloadRef")
			_ = unstructured.SetNestedField(obj, map[string]any{v1alpha1.WorkloadGenerationAnnotation: "3"}, "metadata", "annotations")
			_ = unstructured.SetNestedField(obj, "2", "status", "workloadObservedGeneration")
		},
	} {
		obj := runtime.DeepCopyJSON(healthy)
		change(obj)
		if status, msg := k.health(obj); status != "Progressing" || !strings.Contains(msg, "observed") {
			t.Fatalf("%s: %s %q", what, status, msg)
		}
	}

	// A new version pauses at step 2: Suspended, and promote lets it go
	// on to the analysis step, where it is Progressing.
	setImage("example/web:2")
	sameAsStatus(k.waitHealth("Suspended"))
	k.wantEnabled("abort", "pause", "promote", "promote-full", "restart", "resume", "skip-current-step")
	k.act("promote")
	sameAsStatus(k.waitHealth("Progressing"))

	// The analysis step's run: Progressing while it measures; terminate
	// ends it Successful, and the rollout completes.
	var runName string
	clustertest.Eventually(t, 30*time.Second, "the step's run", func() (bool, string) {
		var runs v1alpha1.AnalysisRunList
		if err := cl.List(ctx, &runs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, r := range runs.Items {
			if r.Status.Phase == v1alpha1.AnalysisPhaseRunning {
				runName = r.Name
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d runs, none Running", len(runs.Items))
	})
	run := &kube{t: t, kind: "AnalysisRun", ns: ns, name: runName}
	run.waitHealth("Progressing")
	run.wantEnabled("terminate")
	run.act("terminate")
	run.waitHealth("Healthy")
	run.wantEnabled()
	k.waitHealth("Healthy")
	if img := str(k.get(), "spec", "template", "spec", "containers"); !strings.Contains(img, "example/web:2") {
		t.Fatalf("containers %s", img)
	}

	// Paused by hand at the step's pause; resume lifts both pauses and the
	// rollout goes on to its analysis; abort there: Degraded, and only
	// retry (and restart) apply.
	setImage("example/web:3")
	k.waitHealth("Suspended")
	k.act("pause")
	clustertest.Eventually(t, 30*time.Second, "spec.paused observed", func() (bool, string) {
		obj := k.get()
		return str(obj, "spec", "paused") == "true" && str(obj, "status", "observedGeneration") == str(obj, "metadata", "generation"), str(obj, "status", "message")
	})
	sameAsStatus(k.waitHealth("Suspended"))
	k.wantEnabled("abort", "promote", "promote-full", "restart", "resume", "skip-current-step")
	k.act("resume")
	k.waitHealth("Progressing")
	k.act("abort")
	sameAsStatus(k.waitHealth("Degraded"))
	k.wantEnabled("restart", "retry")
	// Retry starts the steps over; skip-current-step passes the pause,
	// promote-full skips the analysis.
	k.act("retry")
	k.waitHealth("Suspended")
	k.act("skip-current-step")
	k.waitHealth("Progressing")
	k.act("promote-full")
	obj := k.waitHealth("Healthy")
	if str(obj, "status", "stableRS") != str(obj, "status", "currentPodHash") {
		t.Fatalf("Healthy but stableRS %s, currentPodHash %s", str(obj, "status", "stableRS"), str(obj, "status", "currentPodHash"))
	}
	k.wantEnabled("restart")

	// Restart: the controller replaces the pods and records it.
	k.act("restart")
	clustertest.Eventually(t, 60*time.Second, "the restart is done", func() (bool, string) {
		obj := k.get()
		at, done := str(obj, "spec", "restartAt"), str(obj, "status", "restartedAt")
		status, _ := k.health(obj)
		return at != "<nil>" && at == done && status == "Healthy", fmt.Sprintf("restartAt %s, restartedAt %s, %s", at, done, status)
	})
}

// Health of AnalysisRuns that fail and of an Experiment that runs and
// succeeds.
func TestRunAndExperimentHealth(t *testing.T) {
	ctx := t.Context()
	ns := clustertest.Namespace(t, cl)
	kpi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"errors": 7}`) }))
	defer kpi.Close()
	failing := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "failing"},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{
			Name: "errors", SuccessCondition: "result == 0",
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: kpi.URL, JSONPath: "{$.errors}"}},
		}}}}
	if err := cl.Create(ctx, failing); err != nil {
		t.Fatal(err)
	}
	run := &kube{t: t, kind: "AnalysisRun", ns: ns, name: "failing"}
	obj := run.waitHealth("Degraded")
	if _, msg := run.health(obj); msg != str(obj, "status", "message") {
		t.Fatalf("message %q, status.message %q", msg, str(obj, "status", "message"))
	}
	run.wantEnabled()

	exp := &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "baseline"},
		Spec: v1alpha1.ExperimentSpec{Duration: "3s", Templates: []v1alpha1.TemplateSpec{{
			Name:     "a",
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "exp"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "exp"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/exp:1"}}},
			},
		}}}}
	if err := cl.Create(ctx, exp); err != nil {
		t.Fatal(err)
	}
	e := &kube{t: t, kind: "Experiment", ns: ns, name: "baseline"}
	if status, _ := e.health(map[string]any{"metadata": map[string]any{}}); status != "Progressing" {
		t.Fatalf("an Experiment without status: %s", status)
	}
	e.waitHealth("Healthy")
}
