package experiment_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/replicaset"
)

var (
	shared *cluster.Cluster
	admin  client.Client
)

// TestMain runs one cluster for the package; each test starts the
// controller (Rollouts, Experiments and AnalysisRuns) as its ServiceAccount.
func TestMain(m *testing.M) {
	clustertest.Main(m, app.Scheme(), nil, func(s clustertest.Shared) {
		shared, admin = s.Cluster, s.Admin
	})
}

// kpi is a web KPI source: it answers {"errors": N} with N from errors,
// and records the hash each query asked for.
type kpi struct {
	*httptest.Server
	mu     sync.Mutex
	errors int
	hashes []string
}

func newKPI(t *testing.T, errors int) *kpi {
	k := &kpi{errors: errors}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.hashes = append(k.hashes, r.URL.Query().Get("hash"))
		fmt.Fprintf(w, `{"errors": %d}`, k.errors)
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *kpi) asked() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.hashes...)
}

// setup makes a namespace with an AnalysisTemplate "errors" that queries
// the KPI source for one pod-template hash, and starts the controller.
func setup(t *testing.T, k *kpi) string {
	ns := namespaceWithTemplate(t, k)
	clustertest.StartController(t, shared.Config(), app.Options{})
	return ns
}

// namespaceWithTemplate makes a namespace with the AnalysisTemplate
// "errors".
func namespaceWithTemplate(t *testing.T, k *kpi) string {
	ns := clustertest.Namespace(t, admin)
	err := admin.Create(t.Context(), &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "errors", Namespace: ns},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Args: []v1alpha1.Argument{{Name: "hash"}},
			Metrics: []v1alpha1.Metric{{
				Name: "errors", Interval: "1s", SuccessCondition: "result < 10",
				Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: k.URL + "/?hash={{args.hash}}", JSONPath: "{.errors}"}},
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func template(name string, annotations map[string]string) v1alpha1.TemplateSpec {
	labels := map[string]string{"app": "shop", "role": name}
	return v1alpha1.TemplateSpec{
		Name: name, Replicas: ptr.To[int32](1),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "app", Image: "example/shop:" + name, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			}}},
		},
	}
}

func experiment(ns, name string, spec v1alpha1.ExperimentSpec) *v1alpha1.Experiment {
	return &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
}

func get(t *testing.T, exp *v1alpha1.Experiment) *v1alpha1.Experiment {
	t.Helper()
	got := &v1alpha1.Experiment{}
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(exp), got); err != nil {
		t.Fatal(err)
	}
	return got
}

func waitPhase(t *testing.T, exp *v1alpha1.Experiment, phase v1alpha1.AnalysisPhase) *v1alpha1.Experiment {
	t.Helper()
	var got *v1alpha1.Experiment
	clustertest.Eventually(t, 60*time.Second, exp.Name+" "+string(phase), func() (bool, string) {
		got = get(t, exp)
		return got.Status.Phase == phase, fmt.Sprintf("%s: %s", got.Status.Phase, got.Status.Message)
	})
	return got
}

func replicaSet(t *testing.T, ns, name string) *appsv1.ReplicaSet {
	t.Helper()
	rs := &appsv1.ReplicaSet{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// Two templates run side by side for the duration (20 s), the canary
// template behind its own Service, an analysis measures the canary
// template's pods by their hash, and at the end the ReplicaSets are scaled
// to zero, the Service is deleted and the run is stopped.
func TestExperimentRunsForItsDurationThenScalesDown(t *testing.T) {
	k := newKPI(t, 1)
	ns := setup(t, k)
	canaryTpl := template("canary", nil)
	canaryTpl.Service = &v1alpha1.TemplateService{Name: "shop-canary-preview"}
	exp := experiment(ns, "shop", v1alpha1.ExperimentSpec{
		Templates: []v1alpha1.TemplateSpec{template("baseline", nil), canaryTpl},
		Duration:  "20s", ScaleDownDelaySeconds: ptr.To[int32](0),
		Analyses: []v1alpha1.ExperimentAnalysisTemplateRef{{Name: "errors", TemplateName: "errors",
			Args: []v1alpha1.Argument{{Name: "hash", Value: ptr.To("{{templates.canary.podTemplateHash}}")}}}},
	})
	if err := admin.Create(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	running := waitPhase(t, exp, v1alpha1.AnalysisPhaseRunning)
	if running.Status.AvailableAt == nil || len(running.Status.TemplateStatuses) != 2 {
		t.Fatalf("running status %+v", running.Status)
	}
	canary := replicaSet(t, ns, "shop-canary")
	hash := canary.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]
	// The pods carry the experiment's labels, hashed with the template: the
	// same template outside the experiment has another hash.
	plain := template("canary", nil).Template
	if hash == replicaset.TemplateHash(&plain, nil) || canary.Spec.Template.Labels[v1alpha1.ExperimentNameLabelKey] != "shop" {
		t.Errorf("canary pods: hash %s, labels %v: want the experiment's labels in the hash", hash, canary.Spec.Template.Labels)
	}
	if canary.Labels[v1alpha1.ExperimentNameLabelKey] != "shop" || canary.Labels[v1alpha1.ExperimentTemplateNameLabelKey] != "canary" || hash == "" ||
		canary.Spec.Selector.MatchLabels[v1alpha1.DefaultRolloutUniqueLabelKey] != hash || metav1.GetControllerOf(canary).Name != "shop" {
		t.Errorf("canary ReplicaSet labels %v, selector %v, owner %v", canary.Labels, canary.Spec.Selector, canary.OwnerReferences)
	}
	// The canary template's Service selects its pods by hash and serves
	// the container's port; the baseline asked for none.
	svc := &corev1.Service{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "shop-canary-preview"}, svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey] != hash || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 ||
		metav1.GetControllerOf(svc).Name != "shop" {
		t.Errorf("Service selector %v, ports %v, owner %v", svc.Spec.Selector, svc.Spec.Ports, svc.OwnerReferences)
	}
	for _, st := range running.Status.TemplateStatuses {
		if want := map[string]string{"canary": "shop-canary-preview"}[st.Name]; st.ServiceName != want {
			t.Errorf("template %s: serviceName %q, want %q", st.Name, st.ServiceName, want)
		}
	}
	done := waitPhase(t, exp, v1alpha1.AnalysisPhaseSuccessful)
	if !strings.Contains(done.Status.Message, "ran for its duration (20s)") {
		t.Errorf("message %q", done.Status.Message)
	}
	if done.Status.Conditions[0].LastTransitionTime.Sub(done.Status.AvailableAt.Time) < 20*time.Second {
		t.Errorf("ended at %v, available at %v: before its duration", done.Status.Conditions[0].LastTransitionTime, done.Status.AvailableAt)
	}
	if got := k.asked(); len(got) == 0 || got[0] != hash {
		t.Errorf("the analysis asked for hashes %v, want the canary template's %s", got, hash)
	}
	clustertest.Eventually(t, 60*time.Second, "both ReplicaSets at 0, the Service gone and the run stopped", func() (bool, string) {
		run := &v1alpha1.AnalysisRun{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "shop-errors"}, run); err != nil {
			return false, err.Error()
		}
		err := admin.Get(t.Context(), client.ObjectKeyFromObject(svc), &corev1.Service{})
		b, c := replicaSet(t, ns, "shop-baseline"), replicaSet(t, ns, "shop-canary")
		return *b.Spec.Replicas == 0 && *c.Spec.Replicas == 0 && run.Status.Phase.Completed() && apierrors.IsNotFound(err),
			fmt.Sprintf("baseline %d, canary %d, run %s, Service: %v", *b.Spec.Replicas, *c.Spec.Replicas, run.Status.Phase, err)
	})
}

// A failing analysis ends the experiment Failed long before its duration.
func TestExperimentFailsWithItsAnalysis(t *testing.T) {
	k := newKPI(t, 50)
	ns := setup(t, k)
	exp := experiment(ns, "bad", v1alpha1.ExperimentSpec{
		Templates: []v1alpha1.TemplateSpec{template("canary", nil)},
		Duration:  "1h", ScaleDownDelaySeconds: ptr.To[int32](0),
		Analyses: []v1alpha1.ExperimentAnalysisTemplateRef{{Name: "errors", TemplateName: "errors", RequiredForCompletion: true,
			Args: []v1alpha1.Argument{{Name: "hash", Value: ptr.To("{{templates.canary.podTemplateHash}}")}}}},
	})
	if err := admin.Create(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	failed := waitPhase(t, exp, v1alpha1.AnalysisPhaseFailed)
	if !strings.Contains(failed.Status.Message, "analysis errors: AnalysisRun bad-errors is Failed") {
		t.Errorf("message %q", failed.Status.Message)
	}
	clustertest.Eventually(t, 60*time.Second, "scaled to 0", func() (bool, string) {
		rs := replicaSet(t, ns, "bad-canary")
		return *rs.Spec.Replicas == 0, fmt.Sprint(*rs.Spec.Replicas)
	})
}

// A template whose pods never become ready fails the experiment at its
// progress deadline, naming the template.
func TestExperimentFailsAtItsProgressDeadline(t *testing.T) {
	ns := setup(t, newKPI(t, 1))
	exp := experiment(ns, "slow", v1alpha1.ExperimentSpec{
		Templates:               []v1alpha1.TemplateSpec{template("baseline", nil), template("canary", map[string]string{cluster.AnnotationReady: "false"})},
		ProgressDeadlineSeconds: ptr.To[int32](3),
	})
	if err := admin.Create(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	failed := waitPhase(t, exp, v1alpha1.AnalysisPhaseFailed)
	if !strings.Contains(failed.Status.Message, "not available within the progress deadline (3s): template canary: 0 of 1 pods available") ||
		strings.Contains(failed.Status.Message, "template baseline") {
		t.Errorf("message %q", failed.Status.Message)
	}
}

// A template whose Service name is taken by a Service the experiment does
// not own ends the experiment in Error saying so; the Service is left as
// it was.
func TestExperimentDoesNotTakeOverAService(t *testing.T) {
	ns := setup(t, newKPI(t, 1))
	theirs := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if err := admin.Create(t.Context(), theirs); err != nil {
		t.Fatal(err)
	}
	tpl := template("canary", nil)
	tpl.Service = &v1alpha1.TemplateService{Name: "web"}
	exp := experiment(ns, "svc", v1alpha1.ExperimentSpec{Templates: []v1alpha1.TemplateSpec{tpl}})
	if err := admin.Create(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	got := waitPhase(t, exp, v1alpha1.AnalysisPhaseError)
	if got.Status.Message != "spec.templates[0].service: Service web exists and is not this experiment's" {
		t.Errorf("message %q", got.Status.Message)
	}
	after := &corev1.Service{}
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(theirs), after); err != nil || after.Spec.Selector["app"] != "web" || len(after.OwnerReferences) != 0 {
		t.Errorf("their Service: %v, selector %v, owners %v", err, after.Spec.Selector, after.OwnerReferences)
	}
}
