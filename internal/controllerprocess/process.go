package controllerprocess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rampdev/ramp/internal/localproc"
)

// Build compiles ramp-controller into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "ramp-controller")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/rampdev/ramp/cmd/ramp-controller").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building ramp-controller: %w\n%s", err, out)
	}
	return bin, nil
}

// Process is a running ramp-controller.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	// Log is the file its output goes to.
	Log string
	// Started is when the process was started.
	Started time.Time
	// Metrics is the address of its Prometheus metrics endpoint.
	Metrics string
}

// Start runs bin against the cluster of kubeconfig with args added to
// its defaults (probes and metrics on free local ports, the Lease in
// ramp-system), its output in logPath, and waits until it is ready.
func Start(ctx context.Context, bin, kubeconfig, logPath string, args ...string) (*Process, error) {
	probes, err := localproc.FreeAddress()
	if err != nil {
		return nil, err
	}
	metrics, err := localproc.FreeAddress()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	all := append([]string{"--kubeconfig", kubeconfig, "--leader-election-namespace=ramp-system",
		"--health-probe-bind-address=" + probes, "--metrics-bind-address=" + metrics}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), Log: logPath, Started: time.Now(), Metrics: metrics}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.done) }()
	err = localproc.WaitReady(ctx, "http://"+probes+"/readyz", p.done, 100*time.Millisecond, time.Minute)
	switch {
	case errors.Is(err, localproc.ErrExited):
		return nil, fmt.Errorf("ramp-controller exited at start; its log: %s", logPath)
	case err != nil:
		p.Stop()
		return nil, fmt.Errorf("ramp-controller: %w; its log: %s", err, logPath)
	}
	return p, nil
}

// Stop asks the process to stop (SIGINT) and waits; it is killed if it has
// not stopped within 30 seconds.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.Kill()
	}
}

// Kill ends the process with SIGKILL, at whatever line it is, and waits.
func (p *Process) Kill() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stall stops the process (SIGSTOP) where it is, as a node that freezes
// or a long pause would: it holds its Lease but cannot renew it.
func (p *Process) Stall() { _ = p.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a stalled process go on (SIGCONT).
func (p *Process) Resume() { _ = p.cmd.Process.Signal(syscall.SIGCONT) }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// PID is the process id; 0 for a nil Process, whose figures read 0.
func (p *Process) PID() int {
	if p == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// RSS is the resident memory now, in bytes.
func (p *Process) RSS() int64 { return Status(p.PID(), "VmRSS") }

// PeakRSS is the most resident memory so far, in bytes.
func (p *Process) PeakRSS() int64 { return Status(p.PID(), "VmHWM") }

// CPU is the processor time used so far.
func (p *Process) CPU() time.Duration { return CPU(p.PID()) }

// Status reads a size field (kB) of /proc/PID/status, in bytes.
func Status(pid int, field string) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// CPU is the user and system time of a process so far, from
// /proc/PID/stat (clock ticks of 1/100 s).
func CPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
