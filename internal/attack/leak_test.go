package attack_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cli"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// secretValue is what the Secret holds: distinctive, so that any copy of it
// is found.
const secretValue = `tok-9d2f5c1e"SECRET"/+&=<`

// echo is the most hostile KPI source for secrets: whatever it is sent
// (URL, headers, body) it sends back, in the answer and in its errors. The
// path picks the answer: /401, /500, /slow (never answers), /text (not
// JSON), /json ({"echo": ...}), /prometheus (Prometheus' error for a bad
// query, which quotes the query).
func echo(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var all bytes.Buffer
		fmt.Fprintf(&all, "%s %s\n", r.Method, r.URL.RequestURI())
		r.Header.Write(&all)
		all.Write(body)
		seen := all.String()
		switch {
		case r.URL.Path == "/401":
			http.Error(w, "unauthorized: "+seen, http.StatusUnauthorized)
		case r.URL.Path == "/500":
			http.Error(w, "failed: "+seen, http.StatusInternalServerError)
		case r.URL.Path == "/slow":
			<-r.Context().Done()
		case r.URL.Path == "/text":
			io.WriteString(w, "not json: "+seen)
		case r.URL.Path == "/json":
			json.NewEncoder(w).Encode(map[string]string{"echo": seen})
		case strings.HasPrefix(r.URL.Path, "/prometheus/"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			q := r.URL.Query().Get("query") + r.PostFormValue("query")
			json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": "parse error in " + q + " from " + seen})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// leakyWeb uses the secret in the URL's query, a header and the body, and
// in its success condition.
func leakyWeb(name, url string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: name, SuccessCondition: `result != "{{args.token}}" && false`,
		Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{
			URL: url + "?key={{args.token}}", Method: v1alpha1.WebMetricMethodPost, TimeoutSeconds: 1,
			Headers: []v1alpha1.WebMetricHeader{{Key: "X-Token", Value: "{{args.token}}"}},
			Body:    `{"token": "{{args.token}}"}`,
		}}}
}

// forms are the shapes the secret may take on its way out.
func forms() []string {
	return []string{secretValue, url.QueryEscape(secretValue), url.PathEscape(secretValue), strings.Trim(mustJSON(secretValue), `"`),
		strings.Trim(strconv.Quote(secretValue), `"`), base64.StdEncoding.EncodeToString([]byte(secretValue)), "tok-9d2f5c1e"}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// On every error path of every provider, the value of a Secret used in the
// URL, a header, the body and the condition appears in no AnalysisRun,
// Rollout, Job, event, controller log line or CLI output.
func TestSecretsLeakNowhere(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	src := echo(t)
	if err := admin.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kpi"},
		Data: map[string][]byte{"token": []byte(secretValue)}}); err != nil {
		t.Fatal(err)
	}
	tokenArg := v1alpha1.Argument{Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "kpi", Key: "token"}}}
	job := v1alpha1.Metric{Name: "job", Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Spec: batchv1.JobSpec{
		BackoffLimit: ptr.To[int32](0),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "check", Image: "example/smoke:1",
			Command: []string{"sh", "-c", "curl -H 'X-Token: {{args.token}}' http://kpi/"},
			Env:     []corev1.EnvVar{{Name: "TOKEN", Value: "{{args.token}}"}, {Name: "HEADER", Value: "Bearer {{args.token}}"}},
		}}}},
	}}}}
	runs := map[string]v1alpha1.Metric{
		"bad-url":         leakyWeb("web", "http://127.0.0.1:1/refused"),
		"unparsable-url":  leakyWeb("web", "http://%zz{{args.token}}/"),
		"answers-401":     leakyWeb("web", src.URL+"/401"),
		"answers-500":     leakyWeb("web", src.URL+"/500"),
		"times-out":       leakyWeb("web", src.URL+"/slow"),
		"malformed-body":  leakyWeb("web", src.URL+"/text"),
		"condition-fails": leakyWeb("web", src.URL+"/json"),
		"prometheus": {Name: "prom", SuccessCondition: `result[0] == {{args.token}}`, Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
			Address: src.URL + "/prometheus", Query: `up{key="{{args.token}}"}`,
			Headers: []v1alpha1.WebMetricHeader{{Key: "X-Token", Value: "{{args.token}}"}},
		}}},
		"job": job,
	}
	for name, m := range runs {
		run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.AnalysisRunSpec{Args: []v1alpha1.Argument{tokenArg}, Metrics: []v1alpha1.Metric{m}}}
		if err := admin.Create(t.Context(), run); err != nil {
			t.Fatal(err)
		}
	}
	// A Rollout whose analysis fails on the 401: its status and events
	// carry the run's message.
	if err := admin.Create(t.Context(), &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "leaky"},
		Spec: v1alpha1.AnalysisTemplateSpec{Args: []v1alpha1.Argument{tokenArg}, Metrics: []v1alpha1.Metric{leakyWeb("web", src.URL+"/401")}}}); err != nil {
		t.Fatal(err)
	}
	ro := team(ns, "app")
	ro.Spec.Strategy.Canary.Steps[1].Analysis.Templates[0].TemplateName = "leaky"
	if err := admin.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, time.Minute, "the first deploy", func() (bool, string) {
		if err := admin.Get(t.Context(), client.ObjectKeyFromObject(ro), ro); err != nil {
			return false, err.Error()
		}
		return healthyAt(ro, "example/app:1")
	})
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = "example/app:2"
	if err := admin.Patch(t.Context(), ro, patch); err != nil {
		t.Fatal(err)
	}

	// Every run ends, the rollout aborts.
	for name := range runs {
		run := &v1alpha1.AnalysisRun{}
		clustertest.Eventually(t, 2*time.Minute, name+" ended", func() (bool, string) {
			if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, run); err != nil {
				return false, err.Error()
			}
			return run.Status.Phase.Completed(), string(run.Status.Phase)
		})
		if name != "job" && run.Status.Phase == v1alpha1.AnalysisPhaseSuccessful {
			t.Errorf("%s succeeded; every web and prometheus case is an error path", name)
		}
	}
	clustertest.Eventually(t, 2*time.Minute, "the rollout aborted", func() (bool, string) {
		if err := admin.Get(t.Context(), client.ObjectKeyFromObject(ro), ro); err != nil {
			return false, err.Error()
		}
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && ro.Status.Abort, string(ro.Status.Phase) + ": " + ro.Status.Message
	})

	// What a user, an auditor or a log pipeline sees.
	seen := map[string]string{}
	var arList v1alpha1.AnalysisRunList
	var roList v1alpha1.RolloutList
	var jobList batchv1.JobList
	var evList eventsv1.EventList
	var coreEvents corev1.EventList
	for what, list := range map[string]client.ObjectList{"analysisruns": &arList, "rollouts": &roList, "jobs": &jobList, "events": &evList, "core events": &coreEvents} {
		if err := admin.List(t.Context(), list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		seen[what] = mustJSON(list)
	}
	if len(jobList.Items) == 0 {
		t.Error("no measurement Job was created")
	}
	if len(evList.Items) == 0 {
		t.Error("no event was recorded")
	}
	for _, j := range jobList.Items {
		if env := j.Spec.Template.Spec.Containers[0].Env; len(env) == 0 || env[0].ValueFrom == nil || env[0].ValueFrom.SecretKeyRef == nil {
			t.Errorf("Job %s: the secret is not passed from the Secret: env %+v", j.Name, env)
		}
	}
	for name := range runs {
		seen["ramp get analysisrun "+name] = rampCLI(t, ns, "get", "analysisrun", name)
		seen["ramp get analysisrun -o yaml "+name] = rampCLI(t, ns, "get", "analysisrun", name, "-o", "yaml")
	}
	seen["ramp get rollout"] = rampCLI(t, ns, "get", "rollout", "app")
	seen["controller log"] = controllerLog(t)
	for where, text := range seen {
		for _, f := range forms() {
			if i := strings.Index(text, f); i >= 0 {
				t.Errorf("the secret (as %q) is in %s: ...%s...", f, where, text[max(0, i-200):min(len(text), i+len(f)+50)])
				break
			}
		}
	}
	// The redaction is there to see: the runs do show what went wrong.
	run := &v1alpha1.AnalysisRun{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "answers-401"}, run); err != nil {
		t.Fatal(err)
	}
	if msg := run.Status.Message; !strings.Contains(msg, "401 Unauthorized") || !strings.Contains(msg, "*****") {
		t.Errorf("answers-401's message %q does not show the 401 with the secret redacted", msg)
	}
}

func rampCLI(t *testing.T, ns string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &out})
	cmd.SetArgs(append([]string{"--kubeconfig", userKubeconfig, "-n", ns}, args...))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Errorf("ramp %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
