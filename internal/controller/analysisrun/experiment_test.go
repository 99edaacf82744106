package analysisrun_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// hashTraffic exports, for every experiment ReplicaSet of the namespace, a
// request counter labelled with its pod-template hash, as a service
// instrumented per pod would: a version whose image ends in ":bad" fails
// one request in five, any other one in a hundred.
func hashTraffic(ns string) func() string {
	var mu sync.Mutex
	counts := map[string][2]int{} // hash: ok, failed
	return func() string {
		var list appsv1.ReplicaSetList
		if err := cl.List(context.Background(), &list, client.InNamespace(ns), client.HasLabels{v1alpha1.ExperimentNameLabelKey}); err != nil {
			return ""
		}
		mu.Lock()
		defer mu.Unlock()
		var b strings.Builder
		var hashes []string
		for _, rs := range list.Items {
			hash := rs.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]
			c := counts[hash]
			if strings.HasSuffix(rs.Spec.Template.Spec.Containers[0].Image, ":bad") {
				c[0], c[1] = c[0]+80, c[1]+20
			} else {
				c[0], c[1] = c[0]+99, c[1]+1
			}
			counts[hash] = c
			hashes = append(hashes, hash)
		}
		sort.Strings(hashes)
		for _, h := range hashes {
			fmt.Fprintf(&b, "shop_requests_total{rollouts_pod_template_hash=%q,code=\"200\"} %d\nshop_requests_total{rollouts_pod_template_hash=%q,code=\"500\"} %d\n", h, counts[h][0], h, counts[h][1])
		}
		return b.String()
	}
}

// errorRatio is the PromQL error ratio of the pods of one hash argument.
func errorRatio(arg string) string {
	return fmt.Sprintf(`(sum(rate(shop_requests_total{code="500",rollouts_pod_template_hash="{{args.%[1]s}}"}[10s])) / sum(rate(shop_requests_total{rollouts_pod_template_hash="{{args.%[1]s}}"}[10s])))`, arg)
}

// Acceptance of the canary experiment step: a canary Rollout runs
// setWeight 20, an experiment of a freshly started baseline (the stable
// version) beside the canary version, whose analysis asks a real Prometheus
// for the difference between the two templates' error ratios, by their
// pod-template hashes; then setWeight 100. A good version completes; a bad
// one (its pods fail one request in five, the baseline's one in a hundred)
// aborts the rollout, the weight returns to 0, and no experiment pod is
// left running.
func TestCanaryExperimentComparesBaselineAndCanaryInPrometheus(t *testing.T) {
	e := newEnv(t)
	address := realPrometheus(t)
	addSeries(t, hashTraffic(e.ns))
	err := cl.Create(e.ctx, &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "compare", Namespace: e.ns},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Args: []v1alpha1.Argument{{Name: "baseline-hash"}, {Name: "canary-hash"}},
			Metrics: []v1alpha1.Metric{{
				Name: "compare", InitialDelay: "3s", Interval: "2s", Count: ptr.To(intstr.FromInt32(3)),
				SuccessCondition: "result[0] <= 0.05",
				Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
					Address: address, Query: errorRatio("canary-hash") + " - " + errorRatio("baseline-hash"),
				}},
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.service("shop-canary", "shop")
	e.service("shop-stable", "shop")
	e.createRollout(rollout("shop", v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		CanaryService: "shop-canary", StableService: "shop-stable", ScaleDownDelaySeconds: ptr.To[int32](0),
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{}},
		Steps: []v1alpha1.CanaryStep{
			{SetWeight: ptr.To[int32](20)},
			{Experiment: &v1alpha1.RolloutExperimentStep{
				Templates: []v1alpha1.RolloutExperimentTemplate{
					{Name: "baseline", SpecRef: v1alpha1.StableSpecRef},
					{Name: "canary", SpecRef: v1alpha1.CanarySpecRef},
				},
				Analyses: []v1alpha1.RolloutExperimentStepAnalysisTemplateRef{{
					Name: "compare", TemplateName: "compare", RequiredForCompletion: true,
					Args: []v1alpha1.AnalysisRunArgument{
						{Name: "baseline-hash", Value: "{{templates.baseline.podTemplateHash}}"},
						{Name: "canary-hash", Value: "{{templates.canary.podTemplateHash}}"},
					},
				}},
				ScaleDownDelaySeconds: ptr.To[int32](0),
			}},
			{SetWeight: ptr.To[int32](100)},
		},
	}}))
	e.rolloutPhase("shop", v1alpha1.RolloutPhaseHealthy)
	router := routers.For(types.NamespacedName{Namespace: e.ns, Name: "shop"})

	// A good version: the experiment passes and the release completes.
	e.setImage("shop", "example/shop:2")
	v2 := e.rolloutPhase("shop", v1alpha1.RolloutPhaseHealthy)
	if v2.Status.StableRS != v2.Status.CurrentPodHash {
		t.Fatalf("v2 not promoted: %+v", v2.Status)
	}
	good := e.experimentPhase("shop-"+v2.Status.CurrentPodHash+"-1", v1alpha1.AnalysisPhaseSuccessful)
	if len(good.Status.AnalysisRuns) != 1 || good.Status.AnalysisRuns[0].Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("experiment runs %+v", good.Status.AnalysisRuns)
	}
	e.experimentScaledDown(good.Name)

	// A bad version: the canary template's error ratio is 0.19 over the
	// baseline's; the rollout aborts.
	e.setImage("shop", "example/shop:bad")
	ro := e.rolloutPhase("shop", v1alpha1.RolloutPhaseDegraded)
	name := "shop-" + ro.Status.CurrentPodHash + "-1"
	for _, want := range []string{"Experiment " + name + " is Failed", `Metric "compare" assessed Failed`, "last value [0.1"} {
		if !strings.Contains(ro.Status.Message, want) {
			t.Errorf("message %q lacks %q", ro.Status.Message, want)
		}
	}
	e.eventually(30*time.Second, "weight back to 0", func() (bool, string) { return router.Weight() == 0, fmt.Sprint(router.Weight()) })
	e.experimentScaledDown(name)
}

func (e *env) experimentPhase(name string, phase v1alpha1.AnalysisPhase) *v1alpha1.Experiment {
	e.t.Helper()
	ex := &v1alpha1.Experiment{}
	e.eventually(60*time.Second, "Experiment "+name+" "+string(phase), func() (bool, string) {
		err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, ex)
		return err == nil && ex.Status.Phase == phase, fmt.Sprintf("%v %s: %s", err, ex.Status.Phase, ex.Status.Message)
	})
	return ex
}

// experimentScaledDown waits for the experiment's ReplicaSets to have no
// pods.
func (e *env) experimentScaledDown(name string) {
	e.t.Helper()
	e.eventually(60*time.Second, "Experiment "+name+" scaled down", func() (bool, string) {
		var list appsv1.ReplicaSetList
		if err := cl.List(e.ctx, &list, client.InNamespace(e.ns), client.MatchingLabels{v1alpha1.ExperimentNameLabelKey: name}); err != nil {
			return false, err.Error()
		}
		var running []string
		for _, rs := range list.Items {
			if ptr.Deref(rs.Spec.Replicas, 0) != 0 || rs.Status.Replicas != 0 {
				running = append(running, fmt.Sprintf("%s %d/%d", rs.Name, ptr.Deref(rs.Spec.Replicas, 0), rs.Status.Replicas))
			}
		}
		return len(list.Items) == 2 && len(running) == 0, fmt.Sprintf("%d ReplicaSets, running: %v", len(list.Items), running)
	})
}

// sample reads the documents of a file in config/samples, in namespace ns.
func sample[T client.Object](t *testing.T, file, ns string) []T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		obj := reflect.New(reflect.TypeFor[T]().Elem()).Interface().(T)
		if kind := reflect.TypeFor[T]().Elem().Name(); meta.Kind != kind {
			continue
		}
		if err := yaml.Unmarshal([]byte(doc), obj); err != nil {
			t.Fatal(err)
		}
		obj.SetNamespace(ns)
		out = append(out, obj)
	}
	return out
}

// The samples that use experiments run to their phase: experiment.yaml
// (its duration shortened to 20 s, its success-rate template the test's
// own web KPI, since the sample's asks a Prometheus that is not here) ends
// Successful, its template's Service there while it runs and gone after;
// rollout-canary-experiment.yaml (its template's Prometheus address the
// test's real one) releases its new version through the experiment step,
// Healthy.
func TestExperimentSamplesRun(t *testing.T) {
	e := newEnv(t)
	address := realPrometheus(t)
	addSeries(t, hashTraffic(e.ns))
	ep := newEndpoint(t, `{"rate": 0.99}`)
	m := webMetric("success-rate", ep.URL)
	m.Provider.Web.JSONPath = "{.rate}"
	m.SuccessCondition = "result >= 0.95"
	// Several measurements: the sample's analysis is requiredForCompletion,
	// so the experiment is Running only while it measures, and a single
	// measurement can end it before the test looks.
	m.Interval, m.Count = "2s", ptr.To(intstr.FromInt32(5))
	if err := cl.Create(e.ctx, &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "success-rate", Namespace: e.ns},
		Spec:       v1alpha1.AnalysisTemplateSpec{Args: []v1alpha1.Argument{{Name: "service-name"}}, Metrics: []v1alpha1.Metric{m}},
	}); err != nil {
		t.Fatal(err)
	}
	exps := sample[*v1alpha1.Experiment](t, "experiment.yaml", e.ns)
	if len(exps) != 1 {
		t.Fatalf("experiment.yaml has %d Experiments", len(exps))
	}
	ex := exps[0]
	ex.Spec.Duration, ex.Spec.ScaleDownDelaySeconds = "20s", ptr.To[int32](0)
	if err := cl.Create(e.ctx, ex); err != nil {
		t.Fatal(err)
	}
	e.experimentPhase(ex.Name, v1alpha1.AnalysisPhaseRunning)
	svc := &corev1.Service{}
	if err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "shop-experiment-canary"}, svc); err != nil {
		t.Errorf("the canary template's Service: %v", err)
	}

	for _, tpl := range sample[*v1alpha1.AnalysisTemplate](t, "rollout-canary-experiment.yaml", e.ns) {
		tpl.Spec.Metrics[0].Provider.Prometheus.Address = address
		if err := cl.Create(e.ctx, tpl); err != nil {
			t.Fatal(err)
		}
	}
	ros := sample[*v1alpha1.Rollout](t, "rollout-canary-experiment.yaml", e.ns)
	if len(ros) != 1 {
		t.Fatalf("rollout-canary-experiment.yaml has %d Rollouts", len(ros))
	}
	e.createRollout(ros[0])
	e.rolloutPhase(ros[0].Name, v1alpha1.RolloutPhaseHealthy)
	e.setImage(ros[0].Name, "ghcr.io/example/shop:1.1.0")
	var ro *v1alpha1.Rollout
	e.eventually(2*time.Minute, "the new version released", func() (bool, string) {
		ro = e.rollout(ros[0].Name)
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.ObservedGeneration == fmt.Sprint(ro.Generation),
			fmt.Sprintf("%s: %s", ro.Status.Phase, ro.Status.Message)
	})
	e.experimentPhase(ros[0].Name+"-"+ro.Status.CurrentPodHash+"-1", v1alpha1.AnalysisPhaseSuccessful)

	e.experimentPhase(ex.Name, v1alpha1.AnalysisPhaseSuccessful)
	e.experimentScaledDown(ex.Name)
	e.eventually(30*time.Second, "the Service deleted", func() (bool, string) {
		err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "shop-experiment-canary"}, &corev1.Service{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}
