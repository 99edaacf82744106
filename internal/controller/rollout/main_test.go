package rollout_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/replicaset"
	"github.com/rampdev/ramp/internal/trafficrouting/memory"
)

var (
	kube           kubernetes.Interface
	cl             client.Client
	shared         *cluster.Cluster
	writes         = &cluster.WriteCounter{}
	stopController func()
	// routers is the in-memory traffic router every canary test's rollout
	// gets; it outlives controller restarts, as a load balancer would.
	routers = &memory.Factory{}
)

// TestMain runs one cluster and one controller for the package; each test
// works in its own namespace.
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	var err error
	shared, err = cluster.Start(context.Background(), cluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the cluster:", err)
		os.Exit(1)
	}
	if err := clustertest.InstallRBAC(shared.Config()); err != nil {
		fmt.Fprintln(os.Stderr, "installing RBAC:", err)
		os.Exit(1)
	}
	stopController, err = startController()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the controller:", err)
		os.Exit(1)
	}
	kube = kubernetes.NewForConfigOrDie(shared.Config())
	cl, err = client.New(shared.Config(), client.Options{Scheme: app.Scheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stopController()
	shared.Stop()
	os.Exit(code)
}

// startController runs a new controller manager against the shared cluster
// as the controller's ServiceAccount, its writes counted; the returned
// function stops it and waits.
func startController() (func(), error) {
	cfg := clustertest.AsController(shared.Config())
	cfg.Wrap(writes.Wrap)
	opts := app.Options{SkipControllerNameValidation: true, Routers: routers, WithoutAnalysisRuns: true}
	mgr, err := app.NewManager(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := app.Setup(mgr, opts); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		<-done
	}, nil
}

// restartController stops the controller and starts a new one, as a crash
// and a restart of the pod would.
func restartController(t *testing.T) {
	t.Helper()
	stopController()
	var err error
	if stopController, err = startController(); err != nil {
		t.Fatal(err)
	}
}

// env is one test's namespace.
type env struct {
	t   testing.TB
	ctx context.Context
	ns  string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ns := clustertest.Namespace(t, cl)
	return &env{t: t, ctx: t.Context(), ns: ns}
}

func (e *env) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	clustertest.Eventually(e.t, timeout, what, cond)
}

func (e *env) service(name, app string) {
	e.t.Helper()
	_, err := kube.CoreV1().Services(e.ns).Create(e.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
}

func blueGreen(name string, replicas int32, bg v1alpha1.BlueGreenStrategy) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/" + name + ":1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{BlueGreen: &bg},
		},
	}
}

func (e *env) create(ro *v1alpha1.Rollout) {
	e.t.Helper()
	ro.Namespace = e.ns
	if err := cl.Create(e.ctx, ro); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) rollout(name string) *v1alpha1.Rollout {
	e.t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, ro); err != nil {
		e.t.Fatal(err)
	}
	return ro
}

// setImage changes the rollout's image, as `ramp set image` will.
func (e *env) setImage(name, image string) {
	e.t.Helper()
	ro := e.rollout(name)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = image
	if err := cl.Patch(e.ctx, ro, patch); err != nil {
		e.t.Fatal(err)
	}
}

// patchStatus changes the rollout's status, as the CLI's actions do.
func (e *env) patchStatus(name string, change func(*v1alpha1.RolloutStatus)) {
	e.t.Helper()
	ro := e.rollout(name)
	patch := client.MergeFrom(ro.DeepCopy())
	change(&ro.Status)
	if err := cl.Status().Patch(e.ctx, ro, patch); err != nil {
		e.t.Fatal(err)
	}
}

// replicaSets maps each of the rollout's ReplicaSets' hash to its desired
// and ready sizes.
func (e *env) replicaSets(name string) map[string][2]int32 {
	e.t.Helper()
	list, err := kube.AppsV1().ReplicaSets(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][2]int32{}
	for _, rs := range list.Items {
		out[rs.Labels[replicaset.HashLabel]] = [2]int32{ptr.Deref(rs.Spec.Replicas, 0), rs.Status.ReadyReplicas}
	}
	return out
}

func (e *env) replicaSet(name, hash string) *appsv1.ReplicaSet {
	e.t.Helper()
	rs, err := kube.AppsV1().ReplicaSets(e.ns).Get(e.ctx, name+"-"+hash, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

func (e *env) selector(svc string) string {
	e.t.Helper()
	s, err := kube.CoreV1().Services(e.ns).Get(e.ctx, svc, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Spec.Selector[replicaset.HashLabel]
}

// waitPhase waits for the phase and returns the rollout.
func (e *env) waitPhase(name string, phase v1alpha1.RolloutPhase, timeout time.Duration) *v1alpha1.Rollout {
	e.t.Helper()
	var ro *v1alpha1.Rollout
	e.eventually(timeout, name+" "+string(phase), func() (bool, string) {
		ro = e.rollout(name)
		return ro.Status.Phase == phase && ro.Status.ObservedGeneration == fmt.Sprint(ro.Generation),
			fmt.Sprintf("phase %s (%s), observed %s of %d", ro.Status.Phase, ro.Status.Message, ro.Status.ObservedGeneration, ro.Generation)
	})
	return ro
}

func condition(ro *v1alpha1.Rollout, t v1alpha1.RolloutConditionType) *v1alpha1.RolloutCondition {
	for i := range ro.Status.Conditions {
		if ro.Status.Conditions[i].Type == t {
			return &ro.Status.Conditions[i]
		}
	}
	return nil
}

// events lists the reasons of the rollout's events, oldest first.
func (e *env) events(name string) []string {
	e.t.Helper()
	var out []string
	for _, ev := range e.eventList(name) {
		out = append(out, ev.Reason)
	}
	return out
}

// eventNotes lists the messages of the rollout's events.
func (e *env) eventNotes(name string) []string {
	e.t.Helper()
	var out []string
	for _, ev := range e.eventList(name) {
		out = append(out, ev.Message)
	}
	return out
}

func (e *env) eventList(name string) []corev1.Event {
	e.t.Helper()
	list, err := kube.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

func (e *env) waitEvent(name, reason string) {
	e.t.Helper()
	e.eventually(20*time.Second, "event "+reason, func() (bool, string) {
		got := e.events(name)
		for _, r := range got {
			if r == reason {
				return true, ""
			}
		}
		return false, fmt.Sprintf("events %v", got)
	})
}

// setPaused sets spec.paused, as `ramp pause` and `ramp resume` do.
func (e *env) setPaused(name string, paused bool) {
	e.t.Helper()
	ro := e.rollout(name)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Paused = paused
	if err := cl.Patch(e.ctx, ro, patch); err != nil {
		e.t.Fatal(err)
	}
}
