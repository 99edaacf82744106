package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/controller/rollout"
)

// The manager's caches hold Ramp's ReplicaSets, pods, referenced
// Deployments and PodTemplates, and managed Services, and none of the others in the cluster.
func TestCachesHoldOnlyWhatRampOwns(t *testing.T) {
	c, err := cluster.Start(t.Context(), cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	cl, err := client.New(c.Config(), client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ramp := map[string]string{v1alpha1.DefaultRolloutUniqueLabelKey: "abc"}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example"}}},
	}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	objects := []client.Object{
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Spec: template.Spec},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ours", Labels: ramp}, Spec: template.Spec},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: selector, Template: template}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "ours", Labels: ramp}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: selector, Template: template}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Selector: selector, Template: template}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "ours", Labels: map[string]string{rollout.WorkloadRefLabel: "r"}}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Selector: selector, Template: template}},
		&corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Template: template},
		&corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "ours", Labels: map[string]string{rollout.WorkloadRefLabel: "r"}}, Template: template},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ours", Labels: map[string]string{v1alpha1.ManagedLabelKey: "true"}}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}},
	}
	for _, obj := range objects {
		obj.SetNamespace("default")
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	mgr, err := app.NewManager(c.Config(), app.Options{SkipControllerNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() { cancel(); <-done }()
	syncCtx, syncCancel := context.WithTimeout(ctx, 30*time.Second)
	defer syncCancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		t.Fatal("the cache did not start")
	}

	for _, list := range []client.ObjectList{&corev1.PodList{}, &appsv1.ReplicaSetList{}, &appsv1.DeploymentList{}, &corev1.PodTemplateList{}, &corev1.ServiceList{}} {
		if err := mgr.GetCache().List(syncCtx, list, client.InNamespace("default")); err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, obj := range items {
			names = append(names, obj.(client.Object).GetName())
		}
		if !slices.Equal(names, []string{"ours"}) {
			t.Errorf("%T holds %v, want only [ours]", list, names)
		}
	}
}
