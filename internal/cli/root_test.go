package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rampdev/ramp/internal/version"
)

func run(t *testing.T, argv0 string, args ...string) string {
	t.Helper()
	cmd := NewRootCommand(argv0)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("ramp %v: %v", args, err)
	}
	return out.String()
}

func TestVersion(t *testing.T) {
	if got := run(t, "ramp", "version"); !strings.HasPrefix(got, "ramp "+version.Version+" (commit ") {
		t.Errorf("ramp version printed %q", got)
	}
	if got := run(t, "ramp", "version", "--short"); got != version.Version+"\n" {
		t.Errorf("ramp version --short printed %q", got)
	}
}

func TestRunsAsKubectlPlugin(t *testing.T) {
	if got := run(t, "/usr/local/bin/kubectl-ramp", "--help"); !strings.Contains(got, "kubectl ramp [command]") {
		t.Errorf("help as a kubectl plugin:\n%s", got)
	}
}
