package rollout_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
)

func TestWorkloadRefTakesTheDeploymentsTemplateAndScalesItDown(t *testing.T) {
	e := newEnv(t)
	labels := map[string]string{"app": "wl"}
	_, err := kube.AppsV1().Deployments(e.ns).Create(e.ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "wl"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/wl:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.service("wl-active", "wl")
	e.create(&v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "wl"},
		Spec: v1alpha1.RolloutSpec{
			Replicas:    ptr.To[int32](2),
			WorkloadRef: &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "wl", ScaleDown: v1alpha1.ScaleDownOnSuccess},
			Strategy:    v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "wl-active"}},
		},
	})
	ro := e.waitPhase("wl", v1alpha1.RolloutPhaseHealthy, 30*time.Second)
	hash := ro.Status.StableRS
	rs := e.replicaSet("wl", hash)
	if rs.Spec.Template.Spec.Containers[0].Image != "example/wl:1" || ro.Status.WorkloadObservedGeneration == "" {
		t.Errorf("template from the Deployment: image %s, workloadObservedGeneration %q", rs.Spec.Template.Spec.Containers[0].Image, ro.Status.WorkloadObservedGeneration)
	}
	if e.selector("wl-active") != hash {
		t.Errorf("active selector %s, want %s", e.selector("wl-active"), hash)
	}
	e.eventually(30*time.Second, "the Deployment scaled to 0 once the rollout is healthy", func() (bool, string) {
		d, err := kube.AppsV1().Deployments(e.ns).Get(e.ctx, "wl", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		// The rollout has seen the Deployment's latest generation (scaling it
		// down was a new one).
		seen := e.rollout("wl").Status.WorkloadObservedGeneration == fmt.Sprint(d.Generation)
		return ptr.Deref(d.Spec.Replicas, -1) == 0 && seen, fmt.Sprintf("replicas %d, generation %d", ptr.Deref(d.Spec.Replicas, -1), d.Generation)
	})

	// A new template in the Deployment is a new release of the rollout.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := kube.AppsV1().Deployments(e.ns).Get(e.ctx, "wl", metav1.GetOptions{})
		if err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = "example/wl:2"
		_, err = kube.AppsV1().Deployments(e.ns).Update(e.ctx, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, "the rollout follows the Deployment's new template", func() (bool, string) {
		ro := e.rollout("wl")
		return ro.Status.StableRS != hash && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy, fmt.Sprintf("%s %s", ro.Status.Phase, ro.Status.Message)
	})
}

func TestMissingWorkloadIsReported(t *testing.T) {
	e := newEnv(t)
	e.service("nowl-active", "nowl")
	e.create(&v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "nowl"},
		Spec: v1alpha1.RolloutSpec{
			WorkloadRef: &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "absent"},
			Strategy:    v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "nowl-active"}},
		},
	})
	ro := e.waitPhase("nowl", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if c := condition(ro, v1alpha1.InvalidSpec); c == nil || c.Message != `spec.workloadRef: Deployment "absent" not found in namespace `+e.ns {
		t.Fatalf("InvalidSpec %+v", c)
	}
}

// A workloadRef may name a ReplicaSet (template and selector come from it,
// and it is scaled down like a Deployment) or a PodTemplate (template only:
// the Rollout brings the selector). A new template in either is a new
// release: the controller watches both.
func TestWorkloadRefToAReplicaSetAndAPodTemplate(t *testing.T) {
	e := newEnv(t)
	podTemplate := func(app, image string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
		}
	}
	_, err := kube.AppsV1().ReplicaSets(e.ns).Create(e.ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "wlrs"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wlrs"}},
			Template: podTemplate("wlrs", "example/wlrs:1"),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kube.CoreV1().PodTemplates(e.ns).Create(e.ctx, &corev1.PodTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "wlpt"},
		Template:   podTemplate("wlpt", "example/wlpt:1"),
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.service("wlrs-active", "wlrs")
	e.create(&v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "wlrs"},
		Spec: v1alpha1.RolloutSpec{
			Replicas:    ptr.To[int32](2),
			WorkloadRef: &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "wlrs", ScaleDown: v1alpha1.ScaleDownOnSuccess},
			Strategy:    v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "wlrs-active"}},
		},
	})
	e.create(&v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "wlpt"},
		Spec: v1alpha1.RolloutSpec{
			Replicas:    ptr.To[int32](2),
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wlpt"}},
			WorkloadRef: &v1alpha1.ObjectRef{APIVersion: "v1", Kind: "PodTemplate", Name: "wlpt"},
			Strategy:    v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}},
		},
	})
	// A PodTemplate carries no selector: without one the Rollout is
	// InvalidSpec, naming the workload and the field.
	e.create(&v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "wlnosel"},
		Spec: v1alpha1.RolloutSpec{
			WorkloadRef: &v1alpha1.ObjectRef{APIVersion: "v1", Kind: "PodTemplate", Name: "wlpt"},
			Strategy:    v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}},
		},
	})

	for _, name := range []string{"wlrs", "wlpt"} {
		ro := e.waitPhase(name, v1alpha1.RolloutPhaseHealthy, 30*time.Second)
		rs := e.replicaSet(name, ro.Status.StableRS)
		if got := rs.Spec.Template.Spec.Containers[0].Image; got != "example/"+name+":1" {
			t.Errorf("%s: image %s, want the workload's", name, got)
		}
	}
	ro := e.waitPhase("wlnosel", v1alpha1.RolloutPhaseDegraded, 30*time.Second)
	if c := condition(ro, v1alpha1.InvalidSpec); c == nil || !strings.Contains(c.Message, "spec.workloadRef: PodTemplate wlpt: spec.selector") {
		t.Errorf("InvalidSpec %+v", c)
	}
	e.eventually(30*time.Second, "the referenced ReplicaSet scaled to 0 once the rollout is healthy", func() (bool, string) {
		rs, err := kube.AppsV1().ReplicaSets(e.ns).Get(e.ctx, "wlrs", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return ptr.Deref(rs.Spec.Replicas, -1) == 0 && rs.Annotations["rollout.ramp.dev/original-replicas"] == "2", fmt.Sprint(ptr.Deref(rs.Spec.Replicas, -1), rs.Annotations)
	})

	// New templates in the workloads are new releases.
	stable := map[string]string{"wlrs": e.rollout("wlrs").Status.StableRS, "wlpt": e.rollout("wlpt").Status.StableRS}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rs, err := kube.AppsV1().ReplicaSets(e.ns).Get(e.ctx, "wlrs", metav1.GetOptions{})
		if err != nil {
			return err
		}
		rs.Spec.Template.Spec.Containers[0].Image = "example/wlrs:2"
		_, err = kube.AppsV1().ReplicaSets(e.ns).Update(e.ctx, rs, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pt, err := kube.CoreV1().PodTemplates(e.ns).Get(e.ctx, "wlpt", metav1.GetOptions{})
		if err != nil {
			return err
		}
		pt.Template.Spec.Containers[0].Image = "example/wlpt:2"
		_, err = kube.CoreV1().PodTemplates(e.ns).Update(e.ctx, pt, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"wlrs", "wlpt"} {
		e.eventually(30*time.Second, name+" follows its workload's new template", func() (bool, string) {
			ro := e.rollout(name)
			if ro.Status.StableRS == stable[name] || ro.Status.Phase != v1alpha1.RolloutPhaseHealthy {
				return false, fmt.Sprintf("%s %s", ro.Status.Phase, ro.Status.Message)
			}
			img := e.replicaSet(name, ro.Status.StableRS).Spec.Template.Spec.Containers[0].Image
			return img == "example/"+name+":2", img
		})
	}
}
