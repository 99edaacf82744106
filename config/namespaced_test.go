package config_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/config"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

func rulesOf(t *testing.T, objs []*unstructured.Unstructured, kind, name string) []rbacv1.PolicyRule {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			var r rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				t.Fatal(err)
			}
			return r.Rules
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

// The namespaced Role grants what the ClusterRole grants, but for
// cluster-scoped ClusterAnalysisTemplates: the two never drift apart.
func TestNamespacedRoleIsTheClusterRole(t *testing.T) {
	all, err := config.Objects()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := config.Namespaced("team-a")
	if err != nil {
		t.Fatal(err)
	}
	want := rulesOf(t, all, "ClusterRole", "ramp-controller")
	for i := range want {
		want[i].Resources = slices.DeleteFunc(slices.Clone(want[i].Resources), func(r string) bool { return r == "clusteranalysistemplates" })
	}
	if got := rulesOf(t, ns, "Role", "ramp-controller"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("config/namespaced/role.yaml:\n%v\nwant the ClusterRole's rules (config/rbac/role.yaml) without clusteranalysistemplates:\n%v", got, want)
	}
	for _, o := range ns {
		if o.GetNamespace() != "team-a" || o.GetKind() == "ClusterRole" || o.GetKind() == "ClusterRoleBinding" || o.GetKind() == "CustomResourceDefinition" {
			t.Errorf("config/namespaced holds %s %s/%s: want namespaced objects in team-a only", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
}

// forbidden counts the requests the API server refused.
type forbidden struct {
	next http.RoundTripper
	n    *atomic.Int32
	last *atomic.Value
}

func (f forbidden) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusForbidden {
		f.n.Add(1)
		f.last.Store(r.Method + " " + r.URL.Path)
	}
	return resp, err
}

// A controller installed with config/namespaced, running with only those
// Roles, carries the rollouts of its namespace, leaves those of another
// alone, is never refused a request, and cannot read outside its namespace.
func TestNamespacedInstallServesOnlyItsNamespace(t *testing.T) {
	ctrl.SetLogger(logr.Discard())
	ctx := t.Context()
	c, admin := clustertest.Start(t)
	for _, ns := range []string{"team-a", "team-b"} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := config.Namespaced("team-a")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			continue // the test runs the controller itself, as that ServiceAccount
		}
		if err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("namespaced-test"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	var refused atomic.Int32
	var last atomic.Value
	cfg := clustertest.RecordRequests(c.Config())
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:team-a:ramp-controller"}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return forbidden{next: rt, n: &refused, last: &last} })
	opts := app.Options{Namespace: "team-a", LeaderElect: true, LeaderElectionNamespace: "team-a", SkipControllerNameValidation: true}
	mgr, err := app.NewManager(cfg, opts)
	if err == nil {
		err = app.Setup(mgr, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	clustertest.RunManager(t, mgr)

	rollout := func(ns string) *v1alpha1.Rollout {
		return &v1alpha1.Rollout{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: v1alpha1.RolloutSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/web:1"}}},
				},
				Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](50)}}}},
			},
		}
	}
	mine, theirs := rollout("team-a"), rollout("team-b")
	for _, ro := range []*v1alpha1.Rollout{mine, theirs} {
		if err := admin.Create(ctx, ro); err != nil {
			t.Fatal(err)
		}
	}
	healthy := func(image string) {
		t.Helper()
		eventually(t, time.Minute, "team-a's rollout Healthy at "+image, func() (bool, string) {
			got := &v1alpha1.Rollout{}
			if err := admin.Get(ctx, client.ObjectKeyFromObject(mine), got); err != nil {
				return false, err.Error()
			}
			return got.Status.Phase == v1alpha1.RolloutPhaseHealthy && got.Status.ObservedGeneration == fmt.Sprint(got.Generation) &&
				got.Spec.Template.Spec.Containers[0].Image == image && got.Status.StableRS == got.Status.CurrentPodHash, fmt.Sprintf("%s: %s", got.Status.Phase, got.Status.Message)
		})
	}
	healthy("example/web:1")
	patch := client.MergeFrom(mine.DeepCopy())
	mine.Spec.Template.Spec.Containers[0].Image = "example/web:2"
	if err := admin.Patch(ctx, mine, patch); err != nil {
		t.Fatal(err)
	}
	healthy("example/web:2")
	if err := admin.Get(ctx, client.ObjectKeyFromObject(theirs), theirs); err != nil {
		t.Fatal(err)
	}
	if theirs.Status.Phase != "" || theirs.Status.ObservedGeneration != "" {
		t.Errorf("team-b's rollout was reconciled: %+v", theirs.Status)
	}
	if n := refused.Load(); n > 0 {
		t.Errorf("the controller was refused %d requests, the last %v", n, last.Load())
	}

	// What its identity may not do (asked past the request log: these
	// refusals are the test's, not the controller's).
	probe := c.Config()
	probe.Impersonate = cfg.Impersonate
	sa, err := client.New(probe, client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	for what, try := range map[string]func() error{
		"list pods in team-b":           func() error { return sa.List(ctx, &corev1.PodList{}, client.InNamespace("team-b")) },
		"get a Secret in team-b":        func() error { return sa.Get(ctx, client.ObjectKey{Namespace: "team-b", Name: "any"}, &corev1.Secret{}) },
		"list rollouts everywhere":      func() error { return sa.List(ctx, &v1alpha1.RolloutList{}) },
		"read the cluster's nodes":      func() error { return sa.List(ctx, &corev1.NodeList{}) },
		"list Secrets in team-a":        func() error { return sa.List(ctx, &corev1.SecretList{}, client.InNamespace("team-a")) },
		"list ConfigMaps in team-b":     func() error { return sa.List(ctx, &corev1.ConfigMapList{}, client.InNamespace("team-b")) },
		"list ClusterAnalysisTemplates": func() error { return sa.List(ctx, &v1alpha1.ClusterAnalysisTemplateList{}) },
	} {
		if err := try(); !apierrors.IsForbidden(err) {
			t.Errorf("%s as the namespaced controller: %v; want Forbidden", what, err)
		}
	}
}
