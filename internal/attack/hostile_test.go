package attack_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// holding answers nothing until the test ends; open counts the requests it
// holds.
type holding struct {
	*httptest.Server
	open atomic.Int32
}

func newHolding(t *testing.T) *holding {
	h := &holding{}
	release := make(chan struct{})
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.open.Add(1)
		defer h.open.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); h.Close() })
	return h
}

// streaming answers 1 GiB as fast as it is read; sent counts the bytes.
func streaming(t *testing.T, sent *atomic.Int64) *httptest.Server {
	chunk := []byte(strings.Repeat("7", 64<<10))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for n := 0; n < 1<<30; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			sent.Add(int64(len(chunk)))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// millionSeries speaks Prometheus' query API and answers every query with
// a vector of 10⁶ samples (about 40 MiB).
func millionSeries(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		for i := 0; i < 1000000; i++ {
			sep := ","
			if i == 0 {
				sep = ""
			}
			if _, err := fmt.Fprintf(w, `%s{"metric":{"pod":"p%d"},"value":[1700000000,"1"]}`, sep, i); err != nil {
				return
			}
		}
		io.WriteString(w, `]}}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// kpi answers {"ok": 1}: a healthy KPI source.
func kpi(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"ok": 1}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func webMetric(name, url string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: name, ConsecutiveErrorLimit: ptr.To(intstr.FromInt32(1)),
		Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: url, TimeoutSeconds: 3600}}}
}

// team is another team's rollout: canary, one replica, 50% then an
// analysis against a healthy KPI source.
func team(ns, name string) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetWeight: ptr.To[int32](50)},
				{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "healthy"}}}},
			}}},
		},
	}
}

// healthyAt reports whether a rollout is Healthy at image, and why not.
func healthyAt(ro *v1alpha1.Rollout, image string) (bool, string) {
	st := ro.Status
	ok := st.Phase == v1alpha1.RolloutPhaseHealthy && st.ObservedGeneration == strconv.FormatInt(ro.Generation, 10) &&
		st.StableRS != "" && st.StableRS == st.CurrentPodHash && ro.Spec.Template.Spec.Containers[0].Image == image
	return ok, fmt.Sprintf("%s %s: %s", ro.Name, st.Phase, st.Message)
}

// release sets image on every rollout at once and returns how long each
// took to be Healthy at it.
func release(t *testing.T, ns string, names []string, image string) []time.Duration {
	t.Helper()
	start := time.Now()
	for _, n := range names {
		ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n}}
		patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image)
		if err := admin.Patch(t.Context(), ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
	}
	took := make([]time.Duration, len(names))
	var mu sync.Mutex
	clustertest.Eventually(t, 3*time.Minute, "every team's rollout Healthy at "+image, func() (bool, string) {
		var why []string
		for i, n := range names {
			if took[i] > 0 {
				continue
			}
			ro := &v1alpha1.Rollout{}
			if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: n}, ro); err != nil {
				return false, err.Error()
			}
			if ok, w := healthyAt(ro, image); ok {
				mu.Lock()
				took[i] = time.Since(start)
				mu.Unlock()
			} else {
				why = append(why, w)
			}
		}
		return len(why) == 0, strings.Join(why, "; ")
	})
	return took
}

func longest(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

// Five attacks at once, each from runs a template's author controls; other
// teams' releases, with analysis of their own, go on in their normal time
// while the attacks are still under way; each attack ends with a message
// saying why; the controller's memory stays bounded.
func TestAttacksDoNotStopOtherReleases(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	good := kpi(t)
	if err := admin.Create(t.Context(), &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "healthy"},
		Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{Name: "ok", SuccessCondition: "result == 1",
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: good.URL, JSONPath: "{.ok}"}}}}},
	}); err != nil {
		t.Fatal(err)
	}
	var teams []string
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("team-%d", i)
		teams = append(teams, name)
		if err := admin.Create(t.Context(), team(ns, name)); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, 2*time.Minute, "the teams' first deploy", func() (bool, string) {
		for _, n := range teams {
			ro := &v1alpha1.Rollout{}
			if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: n}, ro); err != nil {
				return false, err.Error()
			}
			if ok, why := healthyAt(ro, "example/app:1"); !ok {
				return false, why
			}
		}
		return true, ""
	})
	normal := longest(release(t, ns, teams, "example/app:2"))
	t.Logf("the teams' release with no attack: %s", normal.Round(time.Millisecond))

	// The attacks.
	hang, tokens := newHolding(t), newHolding(t)
	var streamed atomic.Int64
	stream, million := streaming(t, &streamed), millionSeries(t)
	noPull := v1alpha1.Metric{Name: "smoke", Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Spec: batchv1.JobSpec{
		BackoffLimit: ptr.To[int32](0),
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{cluster.AnnotationImagePull: "fail"}},
			Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/none:1"}}},
		},
	}}}}
	oauth := webMetric("token", good.URL)
	oauth.Provider.Web.TimeoutSeconds = 0 // the web default, 10s
	oauth.Provider.Web.Authentication.OAuth2 = v1alpha1.OAuth2Config{TokenURL: tokens.URL + "/token", ClientID: "me", ClientSecret: "s"}
	promMetric := v1alpha1.Metric{Name: "series", ConsecutiveErrorLimit: ptr.To(intstr.FromInt32(1)),
		Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Address: million.URL, Query: `up`}}}
	attacks := []struct {
		name   string
		metric v1alpha1.Metric
		phase  v1alpha1.AnalysisPhase
		says   string
	}{
		{"never-answers", webMetric("hang", hang.URL), v1alpha1.AnalysisPhaseError, "no answer within 20s, the longest this controller waits for a KPI source"},
		{"one-gigabyte", webMetric("stream", stream.URL), v1alpha1.AnalysisPhaseError, "the answer is larger than 1 MiB"},
		{"million-series", promMetric, v1alpha1.AnalysisPhaseError, "the answer is larger than 1 MiB"},
		{"token-hangs", oauth, v1alpha1.AnalysisPhaseError, "oauth2: no token within the measurement's deadline"},
		{"never-pulls", noPull, v1alpha1.AnalysisPhaseFailed, "Job was active longer than specified deadline"},
	}
	const runsEach = 4
	for _, a := range attacks {
		for i := 0; i < runsEach; i++ {
			run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", a.name, i)},
				Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{a.metric}}}
			if err := admin.Create(t.Context(), run); err != nil {
				t.Fatal(err)
			}
		}
	}
	clustertest.Eventually(t, time.Minute, "the attacks under way", func() (bool, string) {
		return hang.open.Load() >= runsEach && tokens.open.Load() >= 1 && streamed.Load() > 0,
			fmt.Sprintf("held %d, token fetches held %d, streamed %d bytes", hang.open.Load(), tokens.open.Load(), streamed.Load())
	})

	underAttack := longest(release(t, ns, teams, "example/app:3"))
	t.Logf("the teams' release under attack: %s", underAttack.Round(time.Millisecond))
	if held := hang.open.Load(); held == 0 {
		t.Errorf("the attack was over before the teams' release finished: the release was not shown to go on during it")
	}
	if limit := 3*normal + 10*time.Second; underAttack > limit {
		t.Errorf("the teams' release took %s under attack, %s without: more than %s", underAttack, normal, limit)
	}

	// Each attack ends, with a message saying why.
	for _, a := range attacks {
		for i := 0; i < runsEach; i++ {
			name := fmt.Sprintf("%s-%d", a.name, i)
			run := &v1alpha1.AnalysisRun{}
			clustertest.Eventually(t, 2*time.Minute, name+" ended", func() (bool, string) {
				if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, run); err != nil {
					return false, err.Error()
				}
				return run.Status.Phase.Completed(), string(run.Status.Phase) + ": " + run.Status.Message
			})
			if run.Status.Phase != a.phase || !strings.Contains(run.Status.Message, a.says) {
				t.Errorf("%s: %s %q; want %s saying %q", name, run.Status.Phase, run.Status.Message, a.phase, a.says)
			}
		}
	}
	peak := controller.PeakRSS()
	t.Logf("controller memory: peak %s, now %s; the 1 GiB stream sent %s before it was cut off", mib(peak), mib(controller.RSS()), mib(streamed.Load()))
	if peak > 400<<20 {
		t.Errorf("the controller's peak memory reached %s under attack", mib(peak))
	}
	if streamed.Load() > 256<<20 {
		t.Errorf("%s of the 1 GiB answer was sent: the controller kept reading it", mib(streamed.Load()))
	}
	if t.Failed() {
		t.Logf("controller log:\n%s", lastLines(controllerLog(t), 40))
	}
}
