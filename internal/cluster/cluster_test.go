package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

var shared *Cluster

func TestMain(m *testing.M) {
	c, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the cluster:", err)
		os.Exit(1)
	}
	shared = c
	code := m.Run()
	c.Stop()
	os.Exit(code)
}

// env is one test's namespace on the shared cluster.
type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	ns     string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(shared.Config())
	// A generated suffix, so that -count=N runs a test again in the
	// shared cluster.
	base := strings.Trim(strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), "-")
	if len(base) > 50 {
		base = strings.Trim(base[:50], "-")
	}
	created, err := client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: base + "-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s-: %v", base, err)
	}
	ns := created.Name
	return &env{t: t, ctx: t.Context(), client: client, ns: ns}
}

// eventually polls cond until it holds, failing the test after timeout with
// the last explanation cond gave.
func (e *env) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(e.ctx, 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, why := cond()
		last = why
		return ok, nil
	})
	if err != nil {
		e.t.Fatalf("%s: not true after %v: %s", what, timeout, last)
	}
}

func podTemplate(labels map[string]string, annotations map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app:1"}}},
	}
}

func (e *env) createReplicaSet(name string, replicas int32, annotations map[string]string) *appsv1.ReplicaSet {
	e.t.Helper()
	l := map[string]string{"app": name}
	rs, err := e.client.AppsV1().ReplicaSets(e.ns).Create(e.ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: podTemplate(l, annotations),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating ReplicaSet: %v", err)
	}
	return rs
}

func (e *env) pods(selector map[string]string) []corev1.Pod {
	e.t.Helper()
	list, err := e.client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
	if err != nil {
		e.t.Fatalf("listing pods: %v", err)
	}
	return list.Items
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestReplicaSetPodsBecomeReadyWithDistinctLoopbackIPs(t *testing.T) {
	e := newEnv(t)
	e.createReplicaSet("web", 3, nil)
	var ips []string
	e.eventually(30*time.Second, "3 ready pods", func() (bool, string) {
		pods := e.pods(map[string]string{"app": "web"})
		ips = nil
		ready := 0
		for i := range pods {
			if isReady(&pods[i]) && pods[i].Spec.NodeName != "" {
				ready++
				ips = append(ips, pods[i].Status.PodIP)
			}
		}
		return len(pods) == 3 && ready == 3, fmt.Sprintf("%d pods, %d ready", len(pods), ready)
	})
	seen := map[string]bool{}
	for _, ip := range ips {
		if !strings.HasPrefix(ip, "127.") {
			t.Errorf("pod IP %s is not in 127.0.0.0/8", ip)
		}
		if seen[ip] {
			t.Errorf("pod IP %s is used twice", ip)
		}
		seen[ip] = true
	}
	e.eventually(30*time.Second, "ReplicaSet status reports 3 ready", func() (bool, string) {
		rs, err := e.client.AppsV1().ReplicaSets(e.ns).Get(e.ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return rs.Status.ReadyReplicas == 3 && rs.Status.AvailableReplicas == 3, fmt.Sprintf("status %+v", rs.Status)
	})

	// A Service selecting them gets an EndpointSlice with exactly those IPs.
	_, err := e.client.CoreV1().Services(e.ns).Create(e.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ips)
	e.eventually(30*time.Second, "EndpointSlice with the pod IPs", func() (bool, string) {
		slices, err := e.client.DiscoveryV1().EndpointSlices(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return false, err.Error()
		}
		var got []string
		for _, s := range slices.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					got = append(got, ep.Addresses...)
				}
			}
		}
		sort.Strings(got)
		return strings.Join(got, ",") == strings.Join(ips, ","), fmt.Sprintf("ready endpoints %v, want %v", got, ips)
	})
}

func TestDeletingReplicaSetGarbageCollectsPods(t *testing.T) {
	e := newEnv(t)
	e.createReplicaSet("gc", 2, nil)
	e.eventually(30*time.Second, "2 pods", func() (bool, string) {
		n := len(e.pods(map[string]string{"app": "gc"}))
		return n == 2, fmt.Sprintf("%d pods", n)
	})
	policy := metav1.DeletePropagationBackground
	if err := e.client.AppsV1().ReplicaSets(e.ns).Delete(e.ctx, "gc", metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, "pods garbage-collected", func() (bool, string) {
		n := len(e.pods(map[string]string{"app": "gc"}))
		return n == 0, fmt.Sprintf("%d pods left", n)
	})
}

func TestJobWhosePodExitsNonZeroFails(t *testing.T) {
	e := newEnv(t)
	mk := func(name, code string) {
		tmpl := podTemplate(map[string]string{"job": name}, map[string]string{AnnotationExitCode: code})
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		_, err := e.client.BatchV1().Jobs(e.ns).Create(e.ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       batchv1.JobSpec{BackoffLimit: ptr.To[int32](0), Template: tmpl},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	mk("fails", "1")
	mk("succeeds", "0")
	jobCondition := func(name string, want batchv1.JobConditionType) {
		e.eventually(60*time.Second, "job "+name+" "+string(want), func() (bool, string) {
			j, err := e.client.BatchV1().Jobs(e.ns).Get(e.ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, c := range j.Status.Conditions {
				if c.Type == want && c.Status == corev1.ConditionTrue {
					return true, ""
				}
			}
			return false, fmt.Sprintf("conditions %+v", j.Status.Conditions)
		})
	}
	jobCondition("fails", batchv1.JobFailed)
	jobCondition("succeeds", batchv1.JobComplete)
	pods := e.pods(map[string]string{"job": "fails"})
	if len(pods) == 0 || pods[0].Status.Phase != corev1.PodFailed {
		t.Fatalf("the failed job's pod should be Failed, got %+v", pods)
	}
	if term := pods[0].Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 1 {
		t.Errorf("exit code: got %+v, want 1", pods[0].Status.ContainerStatuses[0].State)
	}
}

func TestCrashAnnotationShowsCrashLoopBackOff(t *testing.T) {
	e := newEnv(t)
	e.createReplicaSet("crash", 1, map[string]string{AnnotationCrash: "true"})
	e.eventually(30*time.Second, "CrashLoopBackOff with restarts", func() (bool, string) {
		pods := e.pods(map[string]string{"app": "crash"})
		if len(pods) != 1 || len(pods[0].Status.ContainerStatuses) != 1 {
			return false, fmt.Sprintf("%d pods", len(pods))
		}
		cs := pods[0].Status.ContainerStatuses[0]
		w := cs.State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff" && cs.RestartCount >= 2 && !isReady(&pods[0]),
			fmt.Sprintf("state %+v restarts %d", cs.State, cs.RestartCount)
	})
}

// A Job whose image never pulls stays Pending in ImagePullBackOff until its
// activeDeadlineSeconds fails it, as on a real node.
func TestImagePullFailureUntilTheJobDeadline(t *testing.T) {
	e := newEnv(t)
	tmpl := podTemplate(map[string]string{"job": "nopull"}, map[string]string{AnnotationImagePull: "fail"})
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := e.client.BatchV1().Jobs(e.ns).Create(e.ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "nopull"},
		Spec:       batchv1.JobSpec{BackoffLimit: ptr.To[int32](0), ActiveDeadlineSeconds: ptr.To[int64](3), Template: tmpl},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, "the pod in ImagePullBackOff", func() (bool, string) {
		pods := e.pods(map[string]string{"job": "nopull"})
		if len(pods) != 1 || len(pods[0].Status.ContainerStatuses) != 1 {
			return false, fmt.Sprintf("%d pods", len(pods))
		}
		w := pods[0].Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "ImagePullBackOff" && pods[0].Status.Phase == corev1.PodPending, fmt.Sprintf("%+v", pods[0].Status)
	})
	e.eventually(60*time.Second, "the Job failed at its deadline", func() (bool, string) {
		j, err := e.client.BatchV1().Jobs(e.ns).Get(e.ctx, "nopull", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				return c.Reason == "DeadlineExceeded", c.Reason
			}
		}
		return false, fmt.Sprintf("conditions %+v", j.Status.Conditions)
	})
}

func TestReadyAnnotationAndReadinessGates(t *testing.T) {
	e := newEnv(t)
	e.createReplicaSet("unready", 1, map[string]string{AnnotationReady: "false"})

	gated := podTemplate(map[string]string{"app": "gated"}, nil)
	gated.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	if _, err := e.client.CoreV1().Pods(e.ns).Create(e.ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gated", Labels: gated.Labels}, Spec: gated.Spec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A control pod created after them becomes ready; they do not.
	e.createReplicaSet("control", 1, nil)
	e.eventually(30*time.Second, "control pod ready", func() (bool, string) {
		pods := e.pods(map[string]string{"app": "control"})
		return len(pods) == 1 && isReady(&pods[0]), fmt.Sprintf("%d pods", len(pods))
	})
	for _, sel := range []string{"unready", "gated"} {
		pods := e.pods(map[string]string{"app": sel})
		if len(pods) != 1 || pods[0].Status.Phase != corev1.PodRunning || isReady(&pods[0]) {
			t.Fatalf("%s: want one running, unready pod, got %+v", sel, pods)
		}
	}
	// The gated pod turns ready once its gate is True.
	p, err := e.client.CoreV1().Pods(e.ns).Get(e.ctx, "gated", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "example.com/gate", Status: corev1.ConditionTrue})
	if _, err := e.client.CoreV1().Pods(e.ns).UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, "gated pod ready", func() (bool, string) {
		p, err := e.client.CoreV1().Pods(e.ns).Get(e.ctx, "gated", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return isReady(p), fmt.Sprintf("conditions %+v", p.Status.Conditions)
	})
	// The unready pod is still unready.
	for _, p := range e.pods(map[string]string{"app": "unready"}) {
		if isReady(&p) {
			t.Errorf("pod %s with %s=false is ready", p.Name, AnnotationReady)
		}
	}
}

func TestSecondClusterWithPersistentDirAndKubeconfig(t *testing.T) {
	dir := t.TempDir()
	c, err := Start(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()
	if c.Host() == shared.Host() {
		t.Fatal("two clusters share one address")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := client.CoreV1().ConfigMaps("default").Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	stopped = true

	// Restarted on the same directory, the cluster still has the object and
	// the old kubeconfig still works.
	c2, err := Start(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Stop()
	cfg2, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := kubernetes.NewForConfigOrDie(cfg2).CoreV1().ConfigMaps("default").Get(t.Context(), "kept", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("object lost across restart: %v %+v", err, got)
	}
}

func TestStopRemovesTemporaryDirectory(t *testing.T) {
	c, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := c.Dir()
	host := c.Host()
	c.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind: %v", dir, err)
	}
	cfg := shared.Config()
	cfg.Host = host
	cfg.Timeout = 2 * time.Second
	_, err = kubernetes.NewForConfigOrDie(cfg).Discovery().ServerVersion()
	if err == nil {
		t.Errorf("stopped cluster still answers at %s", host)
	}
	_ = apierrors.IsNotFound
}

// A Service created before its pods: its EndpointSlice, created empty,
// is updated with the pods once they are ready (the controller's updates
// reach the EndpointSlice CRD).
func TestEndpointSliceOfAServiceCreatedBeforeItsPods(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.CoreV1().Services(e.ns).Create(e.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "early"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "early"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually(10*time.Second, "an empty slice", func() (bool, string) {
		l, err := e.client.DiscoveryV1().EndpointSlices(e.ns).List(e.ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 1, fmt.Sprint(err)
	})
	e.createReplicaSet("early", 2, nil)
	e.eventually(30*time.Second, "two ready endpoints", func() (bool, string) {
		l, err := e.client.DiscoveryV1().EndpointSlices(e.ns).List(e.ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 1 {
			return false, fmt.Sprint(err)
		}
		ready := 0
		for _, ep := range l.Items[0].Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				ready++
			}
		}
		return ready == 2, fmt.Sprint(l.Items[0].Endpoints)
	})
}
