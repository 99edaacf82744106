// Package promserver runs a real Prometheus server, Debian's prometheus
// binary (which `make test` and `make run` install when it is missing), as
// a child process with a given configuration: for tests (prometheustest)
// and for the sandbox's demo, which discovers the demo pods through the
// sandbox's API server.
package promserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rampdev/ramp/internal/localproc"
)

// Server is a running Prometheus.
type Server struct {
	// URL is the server's address, such as http://127.0.0.1:41234.
	URL  string
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// ErrNoBinary says the prometheus binary is not installed.
var ErrNoBinary = errors.New("the prometheus binary is not on the PATH: run `make test` (it installs Debian's prometheus package) or `apt-get install prometheus`")

// Start runs Prometheus in dir with config (prometheus.yml's content)
// and waits until it is ready. The child dies with this process
// (Pdeathsig), so it is never left behind.
func Start(ctx context.Context, dir, config string) (*Server, error) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return nil, ErrNoBinary
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	addr, err := localproc.FreeAddress()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + addr, dir: dir, addr: addr}
	if err := s.run(ctx, bin); err != nil {
		return nil, err
	}
	return s, nil
}

// Restart starts a stopped server again, at the same address and with the
// same data, and waits until it is ready.
func (s *Server) Restart(ctx context.Context) error {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return ErrNoBinary
	}
	return s.run(ctx, bin)
}

func (s *Server) run(ctx context.Context, bin string) error {
	dir, addr := s.dir, s.addr
	cfgPath := filepath.Join(dir, "prometheus.yml")
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	log, err := os.OpenFile(filepath.Join(dir, "prometheus.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting prometheus: %w", err)
	}
	done := make(chan struct{})
	s.cmd, s.done = cmd, done
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	err = localproc.WaitReady(ctx, s.URL+"/-/ready", done, 50*time.Millisecond, 30*time.Second)
	switch {
	case errors.Is(err, localproc.ErrExited):
		out, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
		return fmt.Errorf("prometheus exited: %s", out)
	case err != nil:
		s.Stop()
		return fmt.Errorf("prometheus: %w", err)
	}
	return nil
}

// Stop ends the server and waits for it.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
