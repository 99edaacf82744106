package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestStubStartsAndExitsCleanly(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "ramp-controller dev (commit ") || !strings.Contains(out.String(), "exiting") {
		t.Errorf("printed %q", out.String())
	}
	if err := run([]string{"--no-such-flag"}, &out); err == nil {
		t.Error("an unknown flag was accepted")
	}
}
