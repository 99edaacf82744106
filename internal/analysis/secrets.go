package analysis

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Redacted replaces a secret's value wherever it is found.
const Redacted = "*****"

// Redactor hides secret values in text: the value itself and the forms a
// provider may turn it into (URL-escaped, JSON-escaped, base64). Whatever a
// provider puts into an error or a value, the text is redacted before it is
// stored or logged. The zero value redacts nothing.
type Redactor struct {
	forms []string
}

// NewRedactor redacts values (empty ones are ignored).
func NewRedactor(values ...string) Redactor {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			forms = append(forms, s)
		}
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		add(v)
		add(url.QueryEscape(v))
		add(url.PathEscape(v))
		if q, err := json.Marshal(v); err == nil {
			add(string(q[1 : len(q)-1]))
		}
		// As Go's %q and Prometheus' error messages quote it.
		q := strconv.Quote(v)
		add(q[1 : len(q)-1])
		add(base64.StdEncoding.EncodeToString([]byte(v)))
		add(base64.RawURLEncoding.EncodeToString([]byte(v)))
	}
	// Longest first, so a value inside another is not half-replaced.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return Redactor{forms: forms}
}

// Empty reports whether there is nothing to redact.
func (r Redactor) Empty() bool { return len(r.forms) == 0 }

// Redact returns s with every secret form replaced.
func (r Redactor) Redact(s string) string {
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Redacted)
		}
	}
	return s
}

// Contains reports whether s holds a secret in any form.
func (r Redactor) Contains(s string) bool {
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// Truncate bounds s to max bytes (at a character boundary) and says how
// long it was: a value or message stored in status can never make the
// status write fail for its size.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	marker := "... (truncated from " + strconv.Itoa(len(s)) + " bytes)"
	cut := max - len(marker)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}
