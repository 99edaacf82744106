package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// The sandbox as a newcomer runs it: the real binary, its ready line, its
// kubeconfig, and a clean stop on SIGINT. It runs the demo on a machine
// without Prometheus: the sandbox says so in one line and runs the rest.
func TestSandboxServesAndStopsOnSIGINT(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ramp-sandbox")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building ramp-sandbox: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "x")
	cmd := exec.Command(bin, "--dir", dir, "--demo")
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir()) // no prometheus on it
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	defer func() { _ = cmd.Process.Kill() }()

	kubeconfig := filepath.Join(dir, "kubeconfig")
	readyLine, noPrometheus := "", 0
	deadline := time.After(2 * time.Minute)
	for readyLine == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("ramp-sandbox exited before it was ready")
			}
			if strings.Contains(l, "prometheus is not installed") {
				noPrometheus++
			}
			if strings.Contains(l, "ready") {
				readyLine = l
			}
		case <-deadline:
			t.Fatal("no ready line within 2 minutes")
		}
	}
	if noPrometheus != 1 {
		t.Errorf("%d lines say prometheus is not installed, want 1", noPrometheus)
	}
	if !strings.Contains(readyLine, kubeconfig) {
		t.Errorf("ready line %q does not name the kubeconfig %s", readyLine, kubeconfig)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// A Rollout is accepted, and the in-process controller takes it to
	// Healthy.
	ro := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(blueGreenRollout), &ro.Object); err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "ramp.dev", Version: "v1alpha1", Resource: "rollouts"}
	rollouts := dynamic.NewForConfigOrDie(cfg).Resource(gvr).Namespace("default")
	if _, err := rollouts.Create(ctx, ro, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a Rollout: %v", err)
	}
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello-active"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "hello"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var phase string
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := rollouts.Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase, _, _ = unstructured.NestedString(got.Object, "status", "phase")
		return phase == "Healthy", nil
	})
	if err != nil {
		t.Fatalf("the rollout did not become Healthy (phase %q): is the in-process controller running?", phase)
	}
	// A ReplicaSet's pods become Ready.
	client := kubernetes.NewForConfigOrDie(cfg)
	labels := map[string]string{"app": "smoke"}
	_, err = client.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		rs, err := client.AppsV1().ReplicaSets("default").Get(ctx, "smoke", metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprintf("%d of 2 ready", rs.Status.ReadyReplicas)
		return rs.Status.ReadyReplicas == 2, nil
	})
	if err != nil {
		t.Fatalf("pods not ready: %s", last)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("ramp-sandbox exited with %v after SIGINT", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("ramp-sandbox still running a minute after SIGINT")
	}
	if got := strings.Join(rest, "\n"); !strings.Contains(got, "stopped") {
		t.Errorf("no 'stopped' line after SIGINT; printed:\n%s", got)
	}
}

const blueGreenRollout = `
apiVersion: ramp.dev/v1alpha1
kind: Rollout
metadata:
  name: hello
spec:
  replicas: 2
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec: {containers: [{name: hello, image: "example/hello:1"}]}
  strategy:
    blueGreen: {activeService: hello-active}
`
