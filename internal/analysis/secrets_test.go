package analysis

import (
	"strings"
	"testing"
)

func TestRedactorHidesEveryFormOfASecret(t *testing.T) {
	secret := `p@ss w/rd"+1`
	r := NewRedactor(secret, "")
	for _, form := range []string{
		secret,
		"p%40ss+w%2Frd%22%2B1", // query-escaped
		"p@ss%20w%2Frd%22+1",   // path-escaped
		`p@ss w/rd\"+1`,        // inside JSON
		"cEBzcyB3L3JkIisx",     // base64
	} {
		got := r.Redact("before " + form + " after")
		if got != "before "+Redacted+" after" {
			t.Errorf("%q redacted as %q", form, got)
		}
		if !r.Contains(form) {
			t.Errorf("Contains(%q) = false", form)
		}
	}
	if NewRedactor().Redact("nothing") != "nothing" || !NewRedactor("").Empty() {
		t.Error("an empty redactor changed text")
	}
}

func TestTruncate(t *testing.T) {
	if Truncate("short", 10) != "short" {
		t.Error("a short text was changed")
	}
	long := strings.Repeat("é", 1000) // 2,000 bytes
	got := Truncate(long, 100)
	if len(got) > 100 || !strings.HasSuffix(got, "... (truncated from 2000 bytes)") || !strings.HasPrefix(got, "é") {
		t.Errorf("truncated to %d bytes: %q", len(got), got)
	}
	for _, r := range got {
		if r == '\uFFFD' {
			t.Fatal("a character was cut in half")
		}
	}
}
