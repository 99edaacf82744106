package config_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/config"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

func TestManifestsHoldEveryPart(t *testing.T) {
	objs, err := config.Objects()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	for _, want := range []string{
		"Namespace/ramp-system",
		"CustomResourceDefinition/rollouts.ramp.dev", "CustomResourceDefinition/analysisruns.ramp.dev",
		"CustomResourceDefinition/analysistemplates.ramp.dev", "CustomResourceDefinition/clusteranalysistemplates.ramp.dev",
		"CustomResourceDefinition/experiments.ramp.dev",
		"ServiceAccount/ramp-controller", "ClusterRole/ramp-controller", "ClusterRoleBinding/ramp-controller",
		"Role/ramp-controller-leader-election", "RoleBinding/ramp-controller-leader-election",
		"Deployment/ramp-controller",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("config/default lacks %s; it holds %v", want, got)
		}
	}
}

// The manifests apply to a cluster, and two controllers running as the
// ServiceAccount they create (with only its permissions) elect a leader,
// carry a rollout to Healthy, and hand over when the leader stops.
func TestInstalledControllerRunsAsItsServiceAccount(t *testing.T) {
	ctrl.SetLogger(logr.Discard())
	ctx := t.Context()
	c, admin := clustertest.Start(t)
	objs, err := config.Objects()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("install-test"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	eventually(t, 60*time.Second, "the controller Deployment available", func() (bool, string) {
		d := &appsv1.Deployment{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: config.Namespace, Name: "ramp-controller"}, d); err != nil {
			return false, err.Error()
		}
		return d.Status.AvailableReplicas == 2, fmt.Sprintf("%+v", d.Status)
	})

	cfg := clustertest.AsController(c.Config())
	a := start(t, cfg)
	eventually(t, 30*time.Second, "the first controller elected", func() (bool, string) { return elected(a.mgr), "" })
	b := start(t, cfg)

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web-active", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if err := admin.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/web:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "web-active", ScaleDownDelaySeconds: ptr.To[int32](0)}},
		},
	}
	if err := admin.Create(ctx, ro); err != nil {
		t.Fatal(err)
	}
	healthy := func(image string) {
		t.Helper()
		eventually(t, 60*time.Second, "web Healthy with "+image, func() (bool, string) {
			got := &v1alpha1.Rollout{}
			if err := admin.Get(ctx, client.ObjectKeyFromObject(ro), got); err != nil {
				return false, err.Error()
			}
			return got.Status.Phase == v1alpha1.RolloutPhaseHealthy && got.Status.ObservedGeneration == fmt.Sprint(got.Generation) &&
				got.Spec.Template.Spec.Containers[0].Image == image, fmt.Sprintf("%s: %s", got.Status.Phase, got.Status.Message)
		})
	}
	healthy("example/web:1")
	if elected(b.mgr) {
		t.Fatal("two controllers lead at once")
	}
	holder := leaseHolder(t, admin)

	// The leader stops (a rolling update of the controller): the other
	// takes the Lease over and carries the next update.
	a.stop()
	eventually(t, 30*time.Second, "the second controller elected", func() (bool, string) { return elected(b.mgr), "" })
	if now := leaseHolder(t, admin); now == holder {
		t.Errorf("the Lease is still held by %s", holder)
	}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(ro), ro); err != nil {
		t.Fatal(err)
	}
	ro.Spec.Template.Spec.Containers[0].Image = "example/web:2"
	if err := admin.Update(ctx, ro); err != nil {
		t.Fatal(err)
	}
	healthy("example/web:2")
	b.stop()
}

type running struct {
	mgr  manager.Manager
	stop func()
}

func start(t *testing.T, cfg *rest.Config) *running {
	t.Helper()
	opts := app.Options{LeaderElect: true, LeaderElectionNamespace: config.Namespace, SkipControllerNameValidation: true}
	mgr, err := app.NewManager(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Setup(mgr, opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	r := &running{mgr: mgr}
	var stopped bool
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	}
	t.Cleanup(r.stop)
	return r
}

func elected(mgr manager.Manager) bool {
	select {
	case <-mgr.Elected():
		return true
	default:
		return false
	}
}

func leaseHolder(t *testing.T, cl client.Client) string {
	t.Helper()
	lease := &coordinationv1.Lease{}
	if err := cl.Get(t.Context(), client.ObjectKey{Namespace: config.Namespace, Name: "ramp-controller-lock"}, lease); err != nil {
		t.Fatal(err)
	}
	return ptr.Deref(lease.Spec.HolderIdentity, "")
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, why := cond()
		last = why
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not true after %v; last seen: %s", what, timeout, last)
	}
}
