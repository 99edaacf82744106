package dashboard

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func measurements(values ...string) []v1alpha1.Measurement {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var ms []v1alpha1.Measurement
	for i, v := range values {
		at := metav1.NewTime(t0.Add(time.Duration(i) * 10 * time.Second))
		ms = append(ms, v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseSuccessful, Value: v, FinishedAt: &at})
	}
	return ms
}

// wellFormed fails unless svg parses as XML.
func wellFormed(t *testing.T, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("the plot is not well-formed: %v\n%s", err, svg)
		}
	}
}

func TestPlotDrawsNumbersAgainstTheConditions(t *testing.T) {
	spec := v1alpha1.Metric{SuccessCondition: "result[0] >= 0.95", FailureCondition: "result[0] < 0.5 || result[0] > 1e3"}
	svg := string(plot("ratio", measurements("[0.97]", "0.99", "", "[0.4 0.1]", "not a number"), spec))
	wellFormed(t, svg)
	if n := strings.Count(svg, "<circle"); n != 3 {
		t.Errorf("%d points, want the 3 numeric measurements", n)
	}
	for _, want := range []string{`class="threshold success"`, `class="threshold failure"`, `data-value="[0.4 0.1]"`, "success: result[0] &gt;= 0.95", "12:00:00", "12:00:30"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the plot lacks %q:\n%s", want, svg)
		}
	}
	if n := strings.Count(svg, `class="threshold failure"`); n != 2 {
		t.Errorf("%d failure thresholds, want 2 (0.5 and 1e3)", n)
	}
	if plot("none", measurements("", "abc"), spec) != "" {
		t.Error("a metric without numbers is plotted")
	}
	// One point, equal values: still a plot, not a division by zero.
	wellFormed(t, string(plot("one", measurements("1"), v1alpha1.Metric{})))
}

// A provider's value and a template's condition are anyone's text: the plot
// escapes them and stays well-formed.
func FuzzPlot(f *testing.F) {
	f.Add("[0.97]", "0.5", "result[0] >= 0.95", "result[0] < 0.5")
	f.Add(`<script>alert(1)</script>`, "NaN", `x > "</title><script>"`, "== -1e308")
	f.Add("1e308", "-1e308", ">= 1e-308", "< +Inf")
	f.Fuzz(func(t *testing.T, a, b, success, failure string) {
		svg := string(plot(`m"<`, measurements(a, b, a), v1alpha1.Metric{SuccessCondition: success, FailureCondition: failure}))
		if svg == "" {
			return
		}
		wellFormed(t, svg)
		if strings.Contains(svg, "<script") || strings.Contains(svg, "NaN") {
			t.Errorf("the plot carries %q", svg)
		}
	})
}
