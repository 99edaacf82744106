package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// TestREADMEQuickstart runs the README's quickstart as a newcomer would:
// the built ramp-sandbox --demo in a temporary directory, then the built
// ramp CLI against its kubeconfig. A good image walks to Healthy; a bad one
// is aborted by the analysis, with the measured error rate in the message,
// and the Service answers with the good version again; the same for the
// blue/green demo. After SIGTERM no process the sandbox started is left.
func TestREADMEQuickstart(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Fatal("the prometheus binary is missing: make test installs it (hack/install-deb.sh)")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{
		"make run",
		"ramp get rollout demo-canary -w",
		"ramp set image demo-canary app=ramp-demo-app:green",
		"ramp set image demo-canary app=ramp-demo-app:bad",
		"ramp set image demo-bluegreen app=ramp-demo-app:green",
		"ramp set image demo-bluegreen app=ramp-demo-app:bad",
	} {
		if !bytes.Contains(readme, []byte(cmd)) {
			t.Errorf("the README's quickstart lacks %q, which this test runs", cmd)
		}
	}

	bin := t.TempDir()
	for _, pkg := range []string{".", "../ramp"} {
		build := exec.Command("go", "build", "-o", bin+"/", pkg)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			t.Fatalf("building %s: %v", pkg, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "sandbox")
	sandbox := exec.Command(filepath.Join(bin, "ramp-sandbox"), "--demo", "--dir", dir)
	stdout, err := sandbox.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sandbox.Stderr = os.Stderr
	if err := sandbox.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sandbox.Process.Kill() }()
	lines := make(chan string, 100)
	exited := make(chan error, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
		exited <- sandbox.Wait()
	}()
	var printed []string
	deadline := time.After(3 * time.Minute)
	for ready := false; !ready; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("ramp-sandbox exited before it was ready:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, l)
			ready = strings.Contains(l, "press Ctrl-C")
		case <-deadline:
			t.Fatalf("not ready within 3 minutes:\n%s", strings.Join(printed, "\n"))
		}
	}
	out := strings.Join(printed, "\n")
	for _, want := range []string{"kubeconfig: " + dir, "dashboard: http://127.0.0.1:", "prometheus: http://127.0.0.1:", "service demo-canary: http://127.0.0.1:", "ramp get rollout demo-canary -w"} {
		if !strings.Contains(out, want) {
			t.Errorf("the sandbox did not print %q:\n%s", want, out)
		}
	}
	// The dashboard it printed lists the demo rollouts.
	if _, after, ok := strings.Cut(out, "dashboard: "); ok {
		url, _, _ := strings.Cut(after, "\n")
		clustertest.Eventually(t, time.Minute, "the dashboard lists the demo rollouts", func() (bool, string) {
			resp, err := http.Get(strings.TrimSpace(url))
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`data-name="demo-canary"`)) && bytes.Contains(b, []byte(`data-name="demo-bluegreen"`)), fmt.Sprintf("%d %s", resp.StatusCode, b)
		})
	}
	children := childProcesses(sandbox.Process.Pid)
	if len(children) == 0 {
		t.Error("no child process (Prometheus) started")
	}

	env := append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "kubeconfig"))
	ramp := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(bin, "ramp"), args...)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	// ramp get rollout demo-canary -w draws the rollout, until interrupted.
	watch := exec.Command(filepath.Join(bin, "ramp"), "get", "rollout", "demo-canary", "-w")
	watch.Env = env
	var watched syncBuffer
	watch.Stdout, watch.Stderr = &watched, &watched
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, time.Minute, "ramp get rollout -w drew a Healthy rollout", func() (bool, string) {
		return strings.Contains(watched.String(), "Healthy"), watched.String()
	})
	_ = watch.Process.Signal(os.Interrupt)
	_ = watch.Wait()
	if !strings.Contains(watched.String(), "Name:") || !strings.Contains(watched.String(), "demo-canary") {
		t.Errorf("ramp get rollout demo-canary -w printed:\n%s", watched.String())
	}

	for _, name := range []string{"demo-canary", "demo-bluegreen"} {
		if out, err := ramp("status", name, "--timeout", "2m"); err != nil {
			t.Fatalf("%s never Healthy: %v\n%s", name, err, out)
		}
		if out, err := ramp("set", "image", name, "app=ramp-demo-app:green"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if out, err := ramp("status", name, "--timeout", "4m"); err != nil {
			t.Fatalf("%s with the good image: %v\n%s", name, err, out)
		}
		// The old pods leave the Service's endpoints a little after the
		// switch (as with kube-proxy).
		clustertest.Eventually(t, 10*time.Second, name+" answers green only, after the good release", func() (bool, string) {
			got := answers(t, dir, name)
			return got == "green", got
		})
		if out, err := ramp("set", "image", name, "app=ramp-demo-app:bad"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		out, err := ramp("status", name, "--timeout", "3m")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !strings.Contains(out, "Degraded: RolloutAborted") || !strings.Contains(out, `Metric "error-rate" assessed Failed`) || !measured.MatchString(out) {
			t.Errorf("%s with the bad image: %v\n%s", name, err, out)
		}
		// Every answer is green again once the aborted pods are out of
		// the Service's endpoints (as with kube-proxy, that lags a little).
		clustertest.Eventually(t, 10*time.Second, name+" answers green only, after the bad release was aborted", func() (bool, string) {
			got := answers(t, dir, name)
			return got == "green", got
		})
	}

	if err := sandbox.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("ramp-sandbox exited with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("ramp-sandbox did not stop within a minute of SIGTERM")
	}
	for _, pid := range children {
		if _, err := os.Stat(filepath.Join("/proc", pid)); err == nil {
			t.Errorf("process %s, started by the sandbox, is still running", pid)
		}
	}
}

// measured is the measured error rate in an abort message.
var measured = regexp.MustCompile(`last value \[(0\.\d+|1)\] against successCondition`)

// answers is what the Service of name answers, through its listener in
// DIR/services.txt: the one version every answer of ten names, or a list
// of them.
func answers(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "services.txt"))
	if err != nil {
		t.Fatal(err)
	}
	addr := ""
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && k == "default/"+name {
			addr = v
		}
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	seen := map[string]bool{}
	for range 10 {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			seen[err.Error()] = true
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			seen[strings.TrimSpace(string(body))] = true
		}
	}
	var versions []string
	for v := range seen {
		versions = append(versions, v)
	}
	return strings.Join(versions, ",")
}

// childProcesses lists the PIDs whose parent is pid (from /proc/*/stat).
func childProcesses(pid int) []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ")".
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		if fields := strings.Fields(rest); len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, filepath.Base(filepath.Dir(f)))
		}
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
