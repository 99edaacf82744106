package analysis

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// placeholder matches {{args.name}}, with or without spaces inside.
var placeholder = regexp.MustCompile(`{{\s*args\.([A-Za-z0-9_.\-]+)\s*}}`)

// Substitute replaces {{args.name}} in every string of the metric (its
// provider's query, URL, headers, body, its limits...) with the argument's
// value. A placeholder whose argument has no value is an error naming it.
// Values are inserted as text, whatever they contain: a value with quotes
// or braces cannot change the metric's structure.
func Substitute(m v1alpha1.Metric, args map[string]string) (v1alpha1.Metric, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return m, err
	}
	var missing string
	out := placeholder.ReplaceAllFunc(raw, func(match []byte) []byte {
		name := string(placeholder.FindSubmatch(match)[1])
		v, ok := args[name]
		if !ok {
			if missing == "" {
				missing = name
			}
			return match
		}
		// JSON-escape the value; it lands inside a JSON string.
		q, _ := json.Marshal(v)
		return q[1 : len(q)-1]
	})
	if missing != "" {
		return m, fmt.Errorf("metric %s: argument %q has no value", m.Name, missing)
	}
	var res v1alpha1.Metric
	if err := json.Unmarshal(out, &res); err != nil {
		return m, fmt.Errorf("metric %s: substituting arguments: %w", m.Name, err)
	}
	return res, nil
}
