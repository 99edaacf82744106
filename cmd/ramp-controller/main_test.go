package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampdev/ramp/internal/cluster"
)

func TestVersionFlag(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--version"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "ramp-controller dev (commit ") {
		t.Errorf("printed %q", out.String())
	}
}

func TestBadFlagsAreRefused(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--no-such-flag"}, &out); err == nil {
		t.Error("an unknown flag was accepted")
	}
	if err := run(t.Context(), []string{"stray"}, &out); err == nil || !strings.Contains(err.Error(), "unexpected arguments") {
		t.Errorf("a stray argument: %v", err)
	}
}

func TestMissingKubeconfigIsAClearError(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}, &out)
	if err == nil {
		t.Fatal("started without a kubeconfig")
	}
}

// The controller starts against a cluster, serves its probes, and stops
// cleanly when its context ends.
func TestRunsAgainstAClusterAndStops(t *testing.T) {
	c, err := cluster.Start(t.Context(), cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var out bytes.Buffer
	err = run(ctx, []string{"--kubeconfig", c.KubeconfigPath(), "--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0"}, &out)
	if err != nil {
		t.Fatalf("controller stopped with %v", err)
	}
}
