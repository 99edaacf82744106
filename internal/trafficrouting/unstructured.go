package trafficrouting

import (
	"encoding/json"
)

// Covers reports whether have holds everything want does, for the untyped
// (JSON-decoded) objects routers edit: maps may hold more keys in have
// (the API server's defaults), lists must be as long, and values equal. A
// router uses it to tell that a route it would write is already there.
func Covers(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !Covers(h[k], v) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !Covers(h[i], w[i]) {
				return false
			}
		}
		return true
	}
	x, err1 := json.Marshal(have)
	y, err2 := json.Marshal(want)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
