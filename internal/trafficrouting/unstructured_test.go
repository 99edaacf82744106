package trafficrouting

import "testing"

func TestCovers(t *testing.T) {
	have := map[string]any{"name": "r", "backendRefs": []any{map[string]any{"name": "c", "kind": "Service", "weight": int64(1)}}}
	for _, c := range []struct {
		want any
		ok   bool
	}{
		{map[string]any{"name": "r"}, true},
		{map[string]any{"backendRefs": []any{map[string]any{"name": "c"}}}, true},
		{map[string]any{"backendRefs": []any{map[string]any{"name": "d"}}}, false},
		{map[string]any{"backendRefs": []any{}}, false},
		{map[string]any{"weight": int64(2)}, false},
		{map[string]any{"backendRefs": []any{map[string]any{"weight": float64(1)}}}, true}, // JSON numbers compare by value
	} {
		if got := Covers(have, c.want); got != c.ok {
			t.Errorf("Covers(%v) = %v, want %v", c.want, got, c.ok)
		}
	}
}
