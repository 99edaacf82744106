package attack_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/controllerprocess"
)

// Bounds the controller under attack runs with (its defaults are 60s and
// one hour; shorter here so that attacks end within the test).
const (
	maxTimeout  = 20 * time.Second
	jobDeadline = 15 * time.Second
)

var (
	admin      client.Client
	kubeconfig string // the controller's: its ServiceAccount
	// userKubeconfig is an administrator's, for the CLI.
	userKubeconfig string
	controller     *controllerprocess.Process
	workDir        string
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // the CLI's clients log nothing here
	c, err := cluster.Start(context.Background(), cluster.Options{})
	if err == nil {
		admin, _, _, err = clustertest.Clients(c.Config(), app.Scheme())
	}
	if err == nil {
		err = start(c)
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	controller.Stop()
	if c != nil {
		c.Stop()
	}
	os.RemoveAll(workDir)
	os.Exit(code)
}

// start runs ramp-controller as its ServiceAccount, with the permissions
// it ships with.
func start(c *cluster.Cluster) error {
	var err error
	if workDir, err = os.MkdirTemp("", "ramp-attack-"); err != nil {
		return err
	}
	if err := clustertest.InstallRBAC(c.Config()); err != nil {
		return err
	}
	userKubeconfig = c.KubeconfigPath()
	kubeconfig = filepath.Join(workDir, "kubeconfig")
	if err := clustertest.WriteControllerKubeconfig(c, kubeconfig); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := controllerprocess.Build(ctx, workDir)
	if err != nil {
		return err
	}
	controller, err = controllerprocess.Start(ctx, bin, kubeconfig, filepath.Join(workDir, "controller.log"),
		"--leader-elect=false", "--zap-log-level=debug",
		"--analysis-max-timeout="+maxTimeout.String(), "--analysis-job-deadline="+jobDeadline.String())
	return err
}

// controllerLog is what the controller has logged so far.
func controllerLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(controller.Log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// lastLines is the end of a log, for a failure message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
