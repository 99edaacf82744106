package analysisrun_test

import (
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis/job"
	"github.com/rampdev/ramp/internal/cluster"
)

// jobMetric runs a pod that exits with code; with OnFailure a failing pod
// is restarted (a Job that keeps running).
func jobMetric(name string, code int, policy corev1.RestartPolicy) v1alpha1.Metric {
	return v1alpha1.Metric{Name: name, Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{
		Metadata: v1alpha1.JobMetadata{Labels: map[string]string{"team": "qa"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{cluster.AnnotationExitCode: fmt.Sprint(code)}},
				Spec:       corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "check", Image: "example/smoke-test:1"}}},
			},
		},
	}}}
}

func (e *env) jobs(run *v1alpha1.AnalysisRun) []batchv1.Job {
	e.t.Helper()
	var list batchv1.JobList
	if err := cl.List(e.ctx, &list, client.InNamespace(e.ns), client.MatchingLabels{job.RunUIDLabel: string(run.UID)}); err != nil {
		e.t.Fatal(err)
	}
	var out []batchv1.Job
	for _, j := range list.Items {
		if j.DeletionTimestamp == nil {
			out = append(out, j)
		}
	}
	return out
}

func TestJobMetricFollowsTheJob(t *testing.T) {
	e := newEnv(t)
	e.create("pass", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{jobMetric("smoke", 0, corev1.RestartPolicyNever)}})
	e.create("fail", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{jobMetric("smoke", 1, corev1.RestartPolicyNever)}})
	pass := e.waitPhase("pass", v1alpha1.AnalysisPhaseSuccessful)
	fail := e.waitPhase("fail", v1alpha1.AnalysisPhaseFailed)
	jobs := e.jobs(pass)
	if len(jobs) != 1 || jobs[0].Labels["team"] != "qa" || jobs[0].Labels[job.MetricLabel] != "smoke" || metav1.GetControllerOf(&jobs[0]).UID != pass.UID {
		t.Errorf("the measurement Job: %+v", jobs)
	}
	if got := pass.Status.MetricResults[0].Measurements[0]; got.Metadata["job-name"] != jobs[0].Name || got.Value != "Job "+jobs[0].Name+" completed" {
		t.Errorf("measurement %+v", got)
	}
	if got := fail.Status.MetricResults[0].Measurements[0].Phase; got != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("failing Job measured %s", got)
	}
}

func TestTerminateDeletesTheRunningJob(t *testing.T) {
	e := newEnv(t)
	m := jobMetric("smoke", 1, corev1.RestartPolicyOnFailure)
	m.Provider.Job.Spec.BackoffLimit = ptr.To[int32](100)
	run := e.create("stop", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}})
	e.eventually(20*time.Second, "the Job running", func() (bool, string) {
		run = e.get("stop")
		return len(e.jobs(run)) == 1 && run.Status.Phase == v1alpha1.AnalysisPhaseRunning, string(run.Status.Phase)
	})
	patch := client.MergeFrom(run.DeepCopy())
	run.Spec.Terminate = true
	if err := cl.Patch(e.ctx, run, patch); err != nil {
		t.Fatal(err)
	}
	run = e.waitPhase("stop", v1alpha1.AnalysisPhaseSuccessful)
	e.eventually(20*time.Second, "the Job deleted", func() (bool, string) { return len(e.jobs(run)) == 0, "" })
}

// Finished Jobs beyond measurementRetention are garbage-collected.
func TestFinishedJobsAreCollectedWithTheirMeasurements(t *testing.T) {
	e := newEnv(t)
	m := jobMetric("smoke", 0, corev1.RestartPolicyNever)
	m.Count = ptr.To(intstr.FromInt32(3))
	m.Interval = "100ms"
	e.create("gc", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}, MeasurementRetention: []v1alpha1.MeasurementRetention{{MetricName: "smoke", Limit: 1}}})
	run := e.waitPhase("gc", v1alpha1.AnalysisPhaseSuccessful)
	if res := run.Status.MetricResults[0]; res.Count != 3 || len(res.Measurements) != 1 {
		t.Errorf("metric result %+v", res)
	}
	e.eventually(20*time.Second, "one Job left", func() (bool, string) {
		jobs := e.jobs(run)
		return len(jobs) == 1 && jobs[0].Name == run.Status.MetricResults[0].Measurements[0].Metadata["job-name"], fmt.Sprint(len(jobs))
	})
}

// A run made again under the same name (a retried release) while the
// previous run's Job is still there (its garbage collection not done yet)
// never takes that Job's verdict: it runs its own.
func TestARunDoesNotAdoptThePreviousRunsJob(t *testing.T) {
	e := newEnv(t)
	old := e.create("retried", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{jobMetric("smoke", 1, corev1.RestartPolicyNever)}})
	e.waitPhase("retried", v1alpha1.AnalysisPhaseFailed)
	// Deleted, its Job left behind as garbage collection would for a moment.
	if err := cl.Delete(e.ctx, old, client.PropagationPolicy(metav1.DeletePropagationOrphan)); err != nil {
		t.Fatal(err)
	}
	e.eventually(20*time.Second, "the old run gone", func() (bool, string) {
		err := cl.Get(e.ctx, client.ObjectKeyFromObject(old), &v1alpha1.AnalysisRun{})
		return err != nil, fmt.Sprint(err)
	})
	if len(e.jobs(old)) != 1 {
		t.Fatal("the old run's Job is not left behind")
	}
	e.create("retried", v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{jobMetric("smoke", 0, corev1.RestartPolicyNever)}})
	run := e.waitPhase("retried", v1alpha1.AnalysisPhaseSuccessful)
	if jobs := e.jobs(run); len(jobs) != 1 || metav1.GetControllerOf(&jobs[0]).UID != run.UID {
		t.Errorf("the new run's Jobs: %d", len(jobs))
	}
}
