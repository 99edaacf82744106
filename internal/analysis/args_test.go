package analysis

import (
	"strings"
	"testing"

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
