package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cli"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// beforeFirstPatch runs land once, just before the CLI's first PATCH goes
// out: a change that lands between the CLI's read and its write.
type beforeFirstPatch struct {
	next http.RoundTripper
	once sync.Once
	land func()
}

func (b *beforeFirstPatch) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch {
		b.once.Do(b.land)
	}
	return b.next.RoundTrip(r)
}

// `ramp promote` decided on a pause the user saw; if the rollout moves on
// (a timed pause ends, the controller goes to the next step) before its
// write lands, it must not promote the step the user never saw: it
// refuses, and the new step stays.
func TestPromoteDoesNotActOnAStepTheUserDidNotSee(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	// No controller handles this rollout (another instance id): the test
	// plays the controller's part with status writes.
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: map[string]string{v1alpha1.InstanceIDLabelKey: "nobody"}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/web:2"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetWeight: ptr.To[int32](20)},
				{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intstr.FromString("10s"))}},
				{Pause: &v1alpha1.RolloutPause{}}, // an approval gate
				{SetWeight: ptr.To[int32](100)},
			}}},
		},
	}
	if err := admin.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	atStep := func(idx int32) {
		t.Helper()
		patch := client.MergeFrom(ro.DeepCopy())
		ro.Status.CurrentPodHash, ro.Status.StableRS = "new", "old"
		ro.Status.CurrentStepIndex = ptr.To(idx)
		ro.Status.Phase = v1alpha1.RolloutPhasePaused
		ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.Now()}}
		if err := admin.Status().Patch(context.Background(), ro, patch); err != nil {
			t.Fatal(err)
		}
	}
	atStep(1) // the timed pause, which the user sees and promotes
	var out bytes.Buffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &out, WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
		return &beforeFirstPatch{next: rt, land: func() { atStep(2) }} // the pause ended: the gate
	}})
	cmd.SetArgs([]string{"--kubeconfig", kubeconfig, "-n", ns, "promote", "web"})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "moved on") {
		t.Errorf("promote while the rollout moved on: %v (%s); want a refusal", err, out.String())
	}
	got := rollout(t, ns, "web")
	if ptr.Deref(got.Status.CurrentStepIndex, -1) != 2 || len(got.Status.PauseConditions) != 1 {
		t.Errorf("the approval gate the user never saw was promoted: step %d, pause conditions %v", ptr.Deref(got.Status.CurrentStepIndex, -1), got.Status.PauseConditions)
	}
}
