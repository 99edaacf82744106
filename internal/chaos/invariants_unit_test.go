package chaos_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis/job"
)

func rs(name, hash, revision string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
		Labels:          map[string]string{v1alpha1.DefaultRolloutUniqueLabelKey: hash},
		Annotations:     map[string]string{v1alpha1.RevisionAnnotation: revision},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Rollout", Name: "web"}}}}
}

func active(hash string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-active", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{v1alpha1.DefaultRolloutUniqueLabelKey: hash}}}
}

// The checks can fail: each one breaks on the event sequence it forbids,
// and only on it.
func TestInvariantsBreak(t *testing.T) {
	iv := newInvariants(nil)
	iv.replicaSet(rs("web-a", "a", "1"), false)
	iv.replicaSet(rs("web-b", "b", "2"), false)
	iv.replicaSet(rs("web-b", "b", "2"), true)
	iv.replicaSet(rs("web-b2", "b", "2"), false) // the old one is gone: fine
	if b := iv.Broken(); len(b) != 0 {
		t.Fatalf("broken on a legal sequence: %v", b)
	}
	iv.replicaSet(rs("web-b3", "b", "2"), false)
	if b := iv.Broken(); len(b) != 1 || !strings.HasPrefix(b[0], "one-replicaset-per-hash: rollout web has 2 ReplicaSets for pod-template hash b") {
		t.Fatalf("two live ReplicaSets for one hash: %v", b)
	}

	iv = newInvariants(nil)
	iv.replicaSet(rs("web-a", "a", "1"), false)
	iv.replicaSet(rs("web-b", "b", "2"), false)
	notAborted := func(string) bool { return false }
	iv.service(active("a"), "web", notAborted)
	iv.service(active("b"), "web", notAborted)
	iv.service(active("b"), "web", func(string) bool { return true })
	iv.service(active("a"), "web", func(string) bool { return true }) // an abort may go back
	if b := iv.Broken(); len(b) != 0 {
		t.Fatalf("broken on a legal sequence: %v", b)
	}
	iv.service(active("a"), "web", notAborted)
	if b := iv.Broken(); len(b) != 1 || !strings.HasPrefix(b[0], "no-flip-back: Service chaos/web-active went back from revision 2 to revision 1") {
		t.Fatalf("a flip back: %v", b)
	}

	// An abort or promote --full in the status that starts a new revision.
	iv = newInvariants(nil)
	status := func(hash string, abort, full bool) *v1alpha1.Rollout {
		return &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Status: v1alpha1.RolloutStatus{CurrentPodHash: hash, StableRS: "a", Abort: abort, PromoteFull: full}}
	}
	iv.rollout(status("a", false, false))
	iv.rollout(status("b", false, false))
	iv.rollout(status("b", true, false)) // given for b: fine
	if b := iv.Broken(); len(b) != 0 {
		t.Fatalf("broken on a legal sequence: %v", b)
	}
	iv.rollout(status("c", true, false))
	iv.rollout(status("d", false, true))
	if b := iv.Broken(); len(b) != 2 || !strings.HasPrefix(b[0], "intent-per-revision: rollout web: the status that starts revision c (after b) has abort true") ||
		!strings.HasPrefix(b[1], "intent-per-revision: rollout web: the status that starts revision d (after c) has abort false, promoteFull true") {
		t.Fatalf("an abort and a promote --full carried over: %v", b)
	}

	// Router weights outside the steps.
	iv = newInvariants(nil)
	iv.weight("HTTPRoute web", "web", 20, routedWeights)
	if b := iv.Broken(); len(b) != 0 {
		t.Fatalf("broken on a legal weight: %v", b)
	}
	iv.weight("HTTPRoute web", "web", 35, routedWeights)
	if b := iv.Broken(); len(b) != 1 || !strings.HasPrefix(b[0], "weights-within-steps: HTTPRoute web gives rollout web's canary weight 35") {
		t.Fatalf("a weight no step sets: %v", b)
	}

	// An analysis step passed without a Successful run.
	f := newFleet(1)
	iv = newInvariants(f)
	passing := func(name, hash string) *v1alpha1.Rollout {
		return &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Status: v1alpha1.RolloutStatus{CurrentPodHash: hash, StableRS: "a", CurrentStepIndex: ptr.To[int32](2)}}
	}
	iv.rollout(passing("good-0", "b"))
	iv.analysisRun(&v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "good-0-b-step1"}, Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseSuccessful}})
	if b := iv.Broken(); len(b) != 0 {
		t.Fatalf("broken on an analysis passed: %v", b)
	}
	iv.rollout(passing("bad-0", "c"))
	iv.analysisRun(&v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "bad-0-c-step1"}, Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseFailed}})
	if b := iv.Broken(); len(b) != 1 || !strings.HasPrefix(b[0], "analysis-not-skipped: rollout bad-0 went past its analysis step 2 for hash c without a Successful AnalysisRun bad-0-c-step1") {
		t.Fatalf("an analysis step skipped: %v", b)
	}

	// Two Jobs for one measurement.
	iv = newInvariants(nil)
	jobFor := func(name string) *batchv1.Job {
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Labels: map[string]string{job.RunUIDLabel: "0123456789", job.MetricLabel: "smoke"}}}
	}
	iv.job(jobFor("run-smoke-1-01234"), false)
	iv.job(jobFor("run-smoke-2-01234"), false)
	iv.job(jobFor("run-smoke-2-01234"), true)
	if b := iv.Broken(); len(b) != 0 {
		t.Fatalf("broken on a Job per measurement: %v", b)
	}
	iv.job(jobFor("run-smoke-1-98765"), false)
	if b := iv.Broken(); len(b) != 1 || !strings.HasPrefix(b[0], "one-job-per-measurement: run 0123456789's measurement 1 of metric smoke has 2 Jobs") {
		t.Fatalf("two Jobs for one measurement: %v", b)
	}
}
