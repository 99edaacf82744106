package analysisrun

import (
	"strings"
	"testing"

	"k8s.io/utils/lru"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
)

// Conditions holding a secret argument's value are compiled each time and
// never kept; others are kept, within the cache's bound.
func TestConditionCacheKeepsNoSecret(t *testing.T) {
	r := &Reconciler{conditions: lru.New(conditionCacheSize)}
	secrets := analysis.NewRedactor("hunter22")
	if _, err := r.condition(`result == "hunter22"`, secrets); err != nil {
		t.Fatal(err)
	}
	if n := r.conditions.Len(); n != 0 {
		t.Errorf("%d conditions kept after one with a secret", n)
	}
	for i := 0; i < conditionCacheSize+10; i++ {
		if _, err := r.condition("result < "+strings.Repeat("1", i%50+1)+"."+string(rune('0'+i%10))+string(rune('0'+i/10%10))+string(rune('0'+i/100%10)), secrets); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.conditions.Len(); n == 0 || n > conditionCacheSize {
		t.Errorf("%d conditions kept; want some, at most %d", n, conditionCacheSize)
	}
}

// Whatever a provider answered, the status keeps no secret, no value or
// message past its bound, and no more than MaxStatus in all.
func TestSanitize(t *testing.T) {
	secrets := analysis.NewRedactor("hunter22")
	big := strings.Repeat("x", 10*MaxValue)
	var ms []v1alpha1.Measurement
	for i := 0; i < 1000; i++ {
		ms = append(ms, v1alpha1.Measurement{Value: big, Message: "token hunter22 refused " + big, Metadata: map[string]string{"q": big}})
	}
	st := &v1alpha1.AnalysisRunStatus{Message: "hunter22", MetricResults: []v1alpha1.MetricResult{{Name: "m", Message: "at hunter22", Measurements: ms}}}
	sanitize(st, secrets)
	if strings.Contains(st.Message, "hunter22") || strings.Contains(st.MetricResults[0].Message, "hunter22") {
		t.Errorf("messages: %q, %q", st.Message, st.MetricResults[0].Message)
	}
	res := st.MetricResults[0]
	if len(res.Measurements) == 0 || len(res.Measurements) == 1000 {
		t.Errorf("%d measurements kept; want the newest, fewer than 1000", len(res.Measurements))
	}
	for _, m := range res.Measurements {
		if len(m.Value) > MaxValue || len(m.Message) > MaxMessage || len(m.Metadata["q"]) > MaxMetadata || strings.Contains(m.Message, "hunter22") {
			t.Fatalf("measurement: value %d bytes, message %d bytes %q...", len(m.Value), len(m.Message), m.Message[:40])
		}
		if !strings.Contains(m.Value, "(truncated from 20480 bytes)") {
			t.Fatalf("a truncated value does not say so: ...%s", m.Value[len(m.Value)-40:])
		}
	}
	if n := size(st); n > MaxStatus {
		t.Errorf("status of %d bytes; want at most %d", n, MaxStatus)
	}
}
