package analysis

import (
	"strings"
	"testing"
	"unicode/utf8"
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

// Whatever the text and the secret, redacting then truncating leaves no
// copy of the secret, stays within the bound and cuts no character in half.
func FuzzRedactThenTruncate(f *testing.F) {
	f.Add("token=hunter2&x=1", "hunter2", 10)
	f.Add("ééééé hunter2 ééé", "hunter2", 9)
	f.Add(strings.Repeat("ab", 100), "ab", 64)
	f.Fuzz(func(t *testing.T, text, secret string, max int) {
		if max < 0 || max > 1<<16 || len(secret) < 4 {
			t.Skip()
		}
		out := Truncate(NewRedactor(secret).Redact(text), max)
		if strings.Contains(out, secret) && !strings.Contains(Redacted, secret) {
			t.Fatalf("%q still holds %q", out, secret)
		}
		if len(text) <= max && len(out) > max {
			t.Fatalf("%d bytes out of a %d-byte text, bound %d", len(out), len(text), max)
		}
		if len(out) > max && !strings.Contains(out, "(truncated from") {
			t.Fatalf("%d bytes past the bound %d without a marker", len(out), max)
		}
		if utf8.ValidString(text) && !utf8.ValidString(out) {
			t.Fatalf("a character was cut in half: %q", out)
		}
	})
}
