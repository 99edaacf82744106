package analysis

import (
	"reflect"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func TestSubstitute(t *testing.T) {
	m := v1alpha1.Metric{
		Name:  "rate",
		Count: ptr.To(intstr.FromString("{{args.count}}")),
		Provider: v1alpha1.MetricProvider{
			Prometheus: &v1alpha1.PrometheusMetric{Query: `sum(rate(x{hash="{{ args.hash }}"}[1m]))`},
			Web:        &v1alpha1.WebMetric{URL: "http://svc/{{args.path}}", Headers: []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer {{args.token}}"}}},
		},
	}
	got, err := Substitute(m, map[string]string{"count": "3", "hash": "abc", "path": `a"b`, "token": "t0k"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Provider.Prometheus.Query != `sum(rate(x{hash="abc"}[1m]))` || got.Count.StrVal != "3" ||
		got.Provider.Web.URL != `http://svc/a"b` || got.Provider.Web.Headers[0].Value != "Bearer t0k" {
		t.Errorf("substituted %+v %+v", got.Provider.Prometheus, got.Provider.Web)
	}
	if _, err := Substitute(m, map[string]string{"count": "3"}); err == nil || !strings.Contains(err.Error(), `argument "hash" has no value`) {
		t.Errorf("missing argument: %v", err)
	}
}

func FuzzSubstituteNeverPanics(f *testing.F) {
	f.Add(`rate(x{h="{{args.h}}"}[1m])`, `v"}{`)
	f.Add(`{{args.h}}{{args.missing}}`, `\`)
	f.Fuzz(func(t *testing.T, query, value string) {
		m := v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: query}}}
		got, err := Substitute(m, map[string]string{"h": value})
		if err == nil && got.Provider.Prometheus == nil {
			t.Fatal("a value changed the metric's structure")
		}
	})
}

func TestJobSecretsComeFromTheSecret(t *testing.T) {
	secrets := map[string]SecretRef{"token": {Name: "creds", Key: "api-token"}}
	job := func(c corev1.Container) v1alpha1.Metric {
		return v1alpha1.Metric{Name: "smoke", Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}}}}}
	}
	m, err := JobSecrets(job(corev1.Container{
		Name:    "c",
		Command: []string{"curl", "-H", "Authorization: Bearer {{args.token}}", "{{args.url}}"},
		Env:     []corev1.EnvVar{{Name: "TOKEN", Value: "{{ args.token }}"}, {Name: "HEADER", Value: "Bearer {{args.token}}"}},
	}), secrets)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Provider.Job.Spec.Template.Spec.Containers[0]
	ref := &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "api-token"}}
	wantEnv := []corev1.EnvVar{{Name: "RAMP_SECRET_TOKEN", ValueFrom: ref}, {Name: "TOKEN", ValueFrom: ref}, {Name: "HEADER", Value: "Bearer $(RAMP_SECRET_TOKEN)"}}
	if !reflect.DeepEqual(c.Env, wantEnv) {
		t.Errorf("env: %+v\nwant %+v", c.Env, wantEnv)
	}
	if want := []string{"curl", "-H", "Authorization: Bearer $(RAMP_SECRET_TOKEN)", "{{args.url}}"}; !reflect.DeepEqual(c.Command, want) {
		t.Errorf("command: %q; want %q (other arguments left to Substitute)", c.Command, want)
	}
	// Anywhere else, a secret would be written into the Job: refused.
	_, err = JobSecrets(job(corev1.Container{Name: "c", Image: "registry/{{args.token}}"}), secrets)
	if err == nil || !strings.Contains(err.Error(), `argument "token" comes from a Secret`) {
		t.Errorf("a secret in the image: %v", err)
	}
	// Other metrics are substituted as they are.
	web := v1alpha1.Metric{Name: "w", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x/?k={{args.token}}"}}}
	if out, err := JobSecrets(web, secrets); err != nil || out.Provider.Web.URL != web.Provider.Web.URL {
		t.Errorf("a web metric: %v %v", out.Provider.Web.URL, err)
	}
}
