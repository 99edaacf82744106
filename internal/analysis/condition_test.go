package analysis

import (
	"math"
	"strings"
	"testing"
)

func TestConditions(t *testing.T) {
	for _, c := range []struct {
		cond   string
		result any
		want   bool
		err    string
	}{
		{"result >= 0.95", 0.97, true, ""},
		{"result >= 0.95", 0.9, false, ""},
		{"result[0] >= 0.95", []any{0.99}, true, ""},
		{"len(result) == 0 || result[0] < 10", []any{}, true, ""},
		{"all(result, {# < 1000})", []any{1.0, 999.0}, true, ""},
		{"isNaN(result) || result >= 0.95", math.NaN(), true, ""},
		{"isInf(result)", math.Inf(1), true, ""},
		{"asInt(result) == 3", "3", true, ""},
		{"asFloat(result) > 0.5", "0.75", true, ""},
		{"isNil(result)", nil, true, ""},
		{"default(result, 5) == 5", nil, true, ""},
		{"result.status == 'ok'", map[string]any{"status": "ok"}, true, ""},
		{"result == 'up'", "up", true, ""},
		{"result[3] > 1", []any{1.0}, false, "out of range"},
		{"asInt(result) > 1", "many", false, "invalid syntax"},
	} {
		cond, err := Compile(c.cond)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.cond, err)
		}
		got, err := cond.Eval(c.result)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q on %v: error %v, want one with %q", c.cond, c.result, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q on %v = %v, %v; want %v", c.cond, c.result, got, err, c.want)
		}
	}
}

func TestBadConditionsNameTheirPosition(t *testing.T) {
	for _, src := range []string{"result >=", "result[0] > > 1", "'text'", "1 + 2", "reslt > 1"} {
		_, err := Compile(src)
		if err == nil {
			t.Errorf("Compile(%q) accepted it", src)
			continue
		}
		if !strings.Contains(err.Error(), src) {
			t.Errorf("Compile(%q): %v does not quote the condition", src, err)
		}
	}
	_, err := Compile("result >= ")
	if err == nil || !strings.Contains(err.Error(), "(1:") {
		t.Errorf("no position in %v", err)
	}
}

func FuzzConditionNeverPanics(f *testing.F) {
	for _, s := range []string{"result >= 0.95", "result[0] < 1", "len(result) == 0", "asInt(result) > 2", "all(result, {# > 0})"} {
		f.Add(s, "0.5")
	}
	f.Fuzz(func(t *testing.T, src, value string) {
		cond, err := Compile(src)
		if err != nil {
			return
		}
		for _, result := range []any{value, []any{value}, map[string]any{"v": value}, nil, 1.5} {
			_, _ = cond.Eval(result)
		}
	})
}
