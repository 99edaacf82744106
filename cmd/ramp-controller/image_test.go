package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerBuild is the Dockerfile's `go build` command (its RUN line, with
// continuations joined) and the file itself.
func dockerBuild(t *testing.T) (command, dockerfile string) {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile = string(b)
	joined := strings.ReplaceAll(dockerfile, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		if cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "RUN "); ok && strings.Contains(cmd, "go build") {
			return cmd, dockerfile
		}
	}
	t.Fatal("the Dockerfile has no RUN ... go build line")
	return "", ""
}

// The image's binary builds with exactly the Dockerfile's command and
// flags (static, stamped with the release's version), and the image runs
// it as a non-root user with a Go no older than go.mod asks for.
func TestImageBinaryBuildsAsTheDockerfileSays(t *testing.T) {
	cmd, dockerfile := dockerBuild(t)
	if !strings.Contains(cmd, "CGO_ENABLED=0") || !strings.Contains(cmd, "-o /out/ ./cmd/ramp-controller ./cmd/ramp") {
		t.Fatalf("unexpected build command %q", cmd)
	}
	out := t.TempDir()
	const version = "v0.0.0-image-test"
	script := strings.ReplaceAll(strings.ReplaceAll(cmd, "${VERSION}", version), "/out/", out+"/")
	build := exec.CommandContext(t.Context(), "sh", "-c", script)
	build.Dir = "../.."
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
	bin := filepath.Join(out, "ramp-controller")
	got, err := exec.CommandContext(t.Context(), bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(got), "ramp-controller "+version+" ") {
		t.Fatalf("%s --version: %v: %s", bin, err, got)
	}
	// The CLI beside it, for config/dashboard's `/ramp dashboard`.
	if got, err := exec.CommandContext(t.Context(), filepath.Join(out, "ramp"), "version").CombinedOutput(); err != nil || !strings.Contains(string(got), "ramp "+version) {
		t.Fatalf("ramp version: %v: %s", err, got)
	}
	if !strings.Contains(dockerfile, "COPY --from=build /out/ramp-controller /out/ramp /") {
		t.Error("the image does not hold both binaries")
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary is dynamically linked: distroless/static cannot run it")
		}
	}

	// The final stage: distroless static, as the non-root user the chart
	// and config/manager require (runAsNonRoot).
	if !strings.Contains(dockerfile, "FROM gcr.io/distroless/static:nonroot") || !regexp.MustCompile(`(?m)^USER 65532:65532$`).MatchString(dockerfile) {
		t.Error("the image does not run on distroless/static as 65532")
	}
	// The build stage's Go is the one go.mod names (major.minor).
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goVersion == nil || !strings.Contains(dockerfile, "FROM golang:"+string(goVersion[1])+" ") {
		t.Errorf("the Dockerfile's build stage is not golang:%s", goVersion[1])
	}
}
