package operate

import (
	"strings"
	"testing"
)

func TestStateTokenRoundTrips(t *testing.T) {
	s := State{Generation: 3, Current: "abc", Stable: "def", Step: 2, Pauses: "CanaryPauseStep", Abort: true}
	got, err := ParseState(s.Token())
	if err != nil || got != s {
		t.Fatalf("ParseState(Token()) = %+v, %v; want %+v", got, err, s)
	}
	if _, err := ParseState("%%%"); err == nil || !strings.Contains(err.Error(), "reload the page") {
		t.Errorf("a bad token: %v", err)
	}
}

// The state a page gives back is anyone's text: it is refused or read,
// never a panic.
func FuzzParseState(f *testing.F) {
	f.Add(State{Generation: 1, Step: -1}.Token())
	f.Add("eyJnIjoxfQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		s, err := ParseState(token)
		if err == nil {
			if again, err := ParseState(s.Token()); err != nil || again != s {
				t.Errorf("%q read as %+v, which does not round-trip", token, s)
			}
		}
	})
}
