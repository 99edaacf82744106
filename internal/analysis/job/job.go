// Package job is the Job metric provider: each measurement is a Kubernetes
// Job made from the metric's spec; it succeeds or fails with the Job.
package job

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
)

// Labels on every measurement Job: the run's UID (the controller caches
// only Jobs that carry it) and the metric's name.
const (
	RunUIDLabel = "analysisrun.ramp.dev/uid"
	MetricLabel = "analysisrun.ramp.dev/metric"
)

// jobNameKey is the measurement metadata that names its Job.
const jobNameKey = "job-name"

// Poll is how often a running Job is looked at when no watch event came.
const Poll = 10 * time.Second

// DefaultDeadline is the activeDeadlineSeconds of a measurement Job that
// sets none: a Job whose pod never starts (an image that never pulls)
// fails then, and its run with it, instead of staying Running for ever.
const DefaultDeadline = time.Hour

// Provider runs measurement Jobs through Client.
type Provider struct {
	Client ctrl.Client
	// Deadline is the activeDeadlineSeconds given to a Job without one
	// (--analysis-job-deadline); zero is DefaultDeadline.
	Deadline time.Duration
}

var _ analysis.Provider = Provider{}

// Type is "job".
func (Provider) Type() string { return "job" }

// Measure creates the measurement's Job (or finds the one a restarted
// controller created already).
func (p Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	run, metric := req.Run, req.Metric
	n := int32(0)
	for _, r := range run.Status.MetricResults {
		if r.Name == metric.Name {
			n = r.Count + r.Error
		}
	}
	name := jobName(run, metric.Name, n+1)
	spec := metric.Provider.Job
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       run.Namespace,
			Labels:          map[string]string{},
			Annotations:     map[string]string{},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(run, v1alpha1.SchemeGroupVersion.WithKind("AnalysisRun"))},
		},
		Spec: *spec.Spec.DeepCopy(),
	}
	for k, v := range spec.Metadata.Labels {
		job.Labels[k] = v
	}
	for k, v := range spec.Metadata.Annotations {
		job.Annotations[k] = v
	}
	// After the user's: the labels the controller finds its Jobs by cannot
	// be overridden.
	job.Labels[RunUIDLabel] = string(run.UID)
	job.Labels[MetricLabel] = labelValue(metric.Name)
	if job.Spec.ActiveDeadlineSeconds == nil {
		d := p.Deadline
		if d <= 0 {
			d = DefaultDeadline
		}
		secs := int64(max(time.Second, d) / time.Second)
		job.Spec.ActiveDeadlineSeconds = &secs
	}
	if err := p.Client.Create(ctx, job); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return analysis.Outcome{}, fmt.Errorf("job: creating Job %s: %w", name, err)
		}
		// Created by this run before a restart: adopted. Another run's
		// (one of the same name, deleted, its Job not collected yet) is
		// never taken, nor its verdict.
		have := &batchv1.Job{}
		if err := p.Client.Get(ctx, ctrl.ObjectKey{Namespace: run.Namespace, Name: name}, have); err != nil {
			return analysis.Outcome{}, fmt.Errorf("job: reading Job %s: %w", name, err)
		}
		if owner := metav1.GetControllerOf(have); owner == nil || owner.UID != run.UID {
			return analysis.Outcome{}, fmt.Errorf("job: Job %s exists and belongs to another run", name)
		}
	}
	return analysis.Outcome{Running: true, Poll: Poll, Metadata: map[string]string{jobNameKey: name}}, nil
}

// Resume reads the Job: Complete is Successful, Failed is Failed.
func (p Provider) Resume(ctx context.Context, req analysis.Request, m *v1alpha1.Measurement) (analysis.Outcome, error) {
	name := m.Metadata[jobNameKey]
	job := &batchv1.Job{}
	if err := p.Client.Get(ctx, ctrl.ObjectKey{Namespace: req.Run.Namespace, Name: name}, job); err != nil {
		if apierrors.IsNotFound(err) {
			return analysis.Outcome{}, fmt.Errorf("job: Job %s is gone", name)
		}
		return analysis.Outcome{}, fmt.Errorf("job: reading Job %s: %w", name, err)
	}
	meta := map[string]string{jobNameKey: name}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return analysis.Outcome{Phase: v1alpha1.AnalysisPhaseSuccessful, Text: "Job " + name + " completed", Metadata: meta}, nil
		case batchv1.JobFailed:
			return analysis.Outcome{Phase: v1alpha1.AnalysisPhaseFailed, Text: fmt.Sprintf("Job %s failed: %s", name, c.Message), Metadata: meta}, nil
		}
	}
	return analysis.Outcome{Running: true, Poll: Poll, Metadata: meta}, nil
}

// Terminate deletes a running Job and its pods.
func (p Provider) Terminate(ctx context.Context, req analysis.Request, m *v1alpha1.Measurement) error {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: req.Run.Namespace, Name: m.Metadata[jobNameKey]}}
	return ctrl.IgnoreNotFound(p.Client.Delete(ctx, job, ctrl.PropagationPolicy(metav1.DeletePropagationBackground)))
}

// GarbageCollect deletes the metric's finished Jobs beyond the newest keep.
func (p Provider) GarbageCollect(ctx context.Context, req analysis.Request, keep int) error {
	var list batchv1.JobList
	if err := p.Client.List(ctx, &list, ctrl.InNamespace(req.Run.Namespace),
		ctrl.MatchingLabels{RunUIDLabel: string(req.Run.UID), MetricLabel: labelValue(req.Metric.Name)}); err != nil {
		return err
	}
	sort.Slice(list.Items, func(i, j int) bool {
		return list.Items[i].CreationTimestamp.After(list.Items[j].CreationTimestamp.Time) ||
			(list.Items[i].CreationTimestamp.Equal(&list.Items[j].CreationTimestamp) && list.Items[i].Name > list.Items[j].Name)
	})
	for i := keep; i < len(list.Items); i++ {
		if err := p.Client.Delete(ctx, &list.Items[i], ctrl.PropagationPolicy(metav1.DeletePropagationBackground)); ctrl.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

// jobName is <run>-<metric>-<n>-<uid>, with the first five characters of
// the run's UID (a run made again under the same name gets other names),
// shortened with a hash to fit 63 characters.
func jobName(run *v1alpha1.AnalysisRun, metric string, n int32) string {
	uid := string(run.UID)
	if len(uid) > 5 {
		uid = uid[:5]
	}
	name := fmt.Sprintf("%s-%s-%d-%s", run.Name, metric, n, uid)
	if len(name) <= 63 {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	sum := strconv.FormatUint(uint64(h.Sum32()), 36)
	suffix := fmt.Sprintf("-%s-%d", sum, n)
	return name[:63-len(suffix)] + suffix
}

// labelValue fits a metric name into a label value.
func labelValue(s string) string {
	if len(s) <= 63 {
		return s
	}
	return s[:63]
}
