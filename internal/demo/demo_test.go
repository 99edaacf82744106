package demo_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/demo"
)

func TestAppFor(t *testing.T) {
	for _, tc := range []struct {
		image   string
		env     []corev1.EnvVar
		ok      bool
		version string
		errors  float64
		latency time.Duration
	}{
		{"ramp-demo-app:blue", nil, true, "blue", 0, 0},
		{"registry.example.com/ramp-demo-app:green", nil, true, "green", 0, 0},
		{"ramp-demo-app:bad", nil, true, "bad", 0.3, 0},
		{"ramp-demo-app:bad", []corev1.EnvVar{{Name: "ERROR_RATE", Value: "0.05"}, {Name: "LATENCY_MS", Value: "20"}}, true, "bad", 0.05, 20 * time.Millisecond},
		{"ramp-demo-app", []corev1.EnvVar{{Name: "ERROR_RATE", Value: "7"}}, true, "latest", 0, 0},
		{"nginx:1", nil, false, "", 0, 0},
	} {
		a, ok := demo.AppFor(&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: tc.image, Env: tc.env}}}})
		if ok != tc.ok || (ok && (a.Version != tc.version || a.ErrorRate != tc.errors || a.Latency != tc.latency)) {
			t.Errorf("%s %v: %+v %v", tc.image, tc.env, a, ok)
		}
	}
}

// Demo pods served on their own IPs, reached through a Service listener.
func TestDemoPodsBehindAServiceListener(t *testing.T) {
	pods := demo.NewPods()
	t.Cleanup(pods.Close)
	c, err := cluster.Start(t.Context(), cluster.Options{Nodes: cluster.NodeOptions{Server: pods}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	ctx := t.Context()
	ns := "demo"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "services.txt")
	svcs, err := demo.StartServices(ctx, cs, file)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.ReplicaSetSpec{
		Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "ramp-demo-app:blue", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: demo.Port}},
			Env: []corev1.EnvVar{{Name: "ERROR_RATE", Value: "0.5"}},
		}}}},
	}}
	if _, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.ServiceSpec{
		Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var addr string
	clustertest.Eventually(t, 30*time.Second, "a listener", func() (bool, string) {
		addr = svcs.Address(ns, "web")
		b, _ := os.ReadFile(file)
		return addr != "" && strings.Contains(string(b), "demo/web "+addr), string(b)
	})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	codes := map[int]int{}
	clustertest.Eventually(t, 30*time.Second, "answers from blue, some errors", func() (bool, string) {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
		return codes[200] > 3 && codes[500] > 3 && strings.HasPrefix(string(body), "blue"), fmt.Sprint(codes)
	})
	// Each pod's own metrics, on its IP.
	podList, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(podList.Items) != 2 {
		t.Fatal(err, len(podList.Items))
	}
	total := 0
	for _, p := range podList.Items {
		resp, err := client.Get(fmt.Sprintf("http://%s:%d/metrics", p.Status.PodIP, demo.Port))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "http_request_duration_seconds_bucket") {
			t.Errorf("pod %s metrics:\n%s", p.Name, body)
		}
		var n int
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "http_requests_total{") {
				var v int
				fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%d", &v)
				n += v
			}
		}
		total += n
	}
	if want := codes[200] + codes[500]; total != want {
		t.Errorf("the pods counted %d requests, the client made %d", total, want)
	}
	// Scaled to zero: the servers stop.
	if err := cs.AppsV1().ReplicaSets(ns).Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "servers stopped", func() (bool, string) { return pods.Serving() == 0, fmt.Sprint(pods.Serving()) })
}
