package gatewayapi

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/runtime"
)

// deepCopy copies an unstructured map.
func deepCopy(m map[string]any) map[string]any {
	return runtime.DeepCopyJSON(m)
}

// equalJSON compares two unstructured values as JSON.
func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
