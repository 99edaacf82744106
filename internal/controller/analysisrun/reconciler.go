package analysisrun

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/metrics"
)

// Reconciler reconciles AnalysisRuns.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client ctrl.Client
	// APIReader reads Secrets that arguments name, past the cache.
	APIReader ctrl.Reader
	// Events records Kubernetes events about runs.
	Events events.EventRecorder
	// Clock tells when measurements are due.
	Clock clock.PassiveClock
	// Providers take the measurements.
	Providers *analysis.Registry
	// InstanceID restricts the reconciler to runs with this
	// ramp.dev/controller-instance-id label (empty: runs without it).
	InstanceID string
	// Workers is how many runs are reconciled at once (default 1); the work
	// queue never hands one run to two workers at once.
	Workers int
	// MeasureWait is how long a reconcile waits for a provider's answer
	// before the call goes on in the background (DefaultMeasureWait).
	MeasureWait time.Duration
	// MaxCalls bounds the provider calls under way at once
	// (DefaultMaxCalls).
	MaxCalls int
	// MaxTimeout bounds every provider call, whatever the metric's own
	// timeout (--analysis-max-timeout; fetch.DefaultMaxTimeout).
	MaxTimeout time.Duration
	// Metrics, when set, measures reconciles (<kind>_reconcile and
	// <kind>_reconcile_error, as Argo Rollouts).
	Metrics *metrics.Metrics
	// SkipNameValidation lets a process register the reconciler more than
	// once (a test that restarts the controller).
	SkipNameValidation bool

	// conditions holds compiled conditions by source; bounded, since
	// arguments substituted into conditions make sources without end.
	conditions *lru.Cache
	calls      *calls
	// written remembers, per run, the resourceVersion of the last status
	// this reconciler wrote: a copy from the cache older than that has not
	// seen the measurements just recorded, and is not acted on (it would
	// measure again and could overwrite a verdict). An entry goes with its
	// run.
	written sync.Map
}

// conditionCacheSize bounds the compiled conditions kept.
const conditionCacheSize = 1024

var _ reconcile.Reconciler = (*Reconciler)(nil)

// Reconcile takes the measurements that are due and judges the run.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	run := &v1alpha1.AnalysisRun{}
	if err := r.Client.Get(ctx, req.NamespacedName, run); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			metrics.Gone(ctx)
		}
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	if run.Labels[v1alpha1.InstanceIDLabelKey] != r.InstanceID || run.DeletionTimestamp != nil {
		r.forget(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	if last, ok := r.written.Load(req.NamespacedName); ok && olderThan(run.ResourceVersion, last.(string)) {
		// The cache has not caught up with our own last write yet; its
		// watch event brings us back.
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	now := r.Clock.Now()
	if run.Status.Phase.Completed() {
		r.calls.forget(req.NamespacedName)
		return r.expire(ctx, run, now)
	}
	st := run.Status.DeepCopy()
	m := &measurer{r: r, run: run, status: st, now: now}
	if err := m.measure(ctx); err != nil {
		// A transient failure (reading a Secret): retried with backoff,
		// nothing written.
		return reconcile.Result{}, err
	}
	sanitize(st, m.redactor)
	if !apiequality.Semantic.DeepEqual(&run.Status, st) {
		updated := run.DeepCopy()
		updated.Status = *st
		// Written only onto the run read: a second controller (two leaders
		// for a moment) or a stale copy cannot overwrite what was recorded.
		if err := r.Client.Status().Patch(ctx, updated, ctrl.MergeFromWithOptions(run, ctrl.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsConflict(err) {
				return reconcile.Result{Requeue: true}, nil
			}
			return reconcile.Result{}, ctrl.IgnoreNotFound(err)
		}
		r.written.Store(req.NamespacedName, updated.ResourceVersion)
		if st.Phase != run.Status.Phase && r.Events != nil {
			kind := corev1.EventTypeNormal
			if st.Phase == v1alpha1.AnalysisPhaseFailed || st.Phase == v1alpha1.AnalysisPhaseError {
				kind = corev1.EventTypeWarning
			}
			r.Events.Eventf(run, nil, kind, "AnalysisRun"+string(st.Phase), "AnalysisRun"+string(st.Phase), "AnalysisRun is %s%s", st.Phase, suffix(st.Message))
		}
		if st.Phase.Completed() {
			r.calls.forget(req.NamespacedName)
			return r.expire(ctx, updated, now)
		}
	}
	if m.next.IsZero() {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{RequeueAfter: max(time.Millisecond, m.next.Sub(now))}, nil
}

// forget drops what the reconciler keeps for a run that is gone or no
// longer its own.
func (r *Reconciler) forget(key types.NamespacedName) {
	r.calls.forget(key)
	r.written.Delete(key)
}

// olderThan reports whether resourceVersion a precedes b. Resource versions
// are etcd revisions; a value that does not parse is never called older.
func olderThan(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// expire deletes a finished run once its ttlStrategy says so.
func (r *Reconciler) expire(ctx context.Context, run *v1alpha1.AnalysisRun, now time.Time) (reconcile.Result, error) {
	ttl := run.Spec.TTLStrategy
	if ttl == nil || run.Status.CompletedAt == nil {
		return reconcile.Result{}, nil
	}
	secs := ttl.SecondsAfterCompletion
	switch run.Status.Phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		if ttl.SecondsAfterSuccess != nil {
			secs = ttl.SecondsAfterSuccess
		}
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError:
		if ttl.SecondsAfterFailure != nil {
			secs = ttl.SecondsAfterFailure
		}
	}
	if secs == nil {
		return reconcile.Result{}, nil
	}
	if wait := run.Status.CompletedAt.Add(time.Duration(*secs) * time.Second).Sub(now); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	return reconcile.Result{}, ctrl.IgnoreNotFound(r.Client.Delete(ctx, run))
}

// condition compiles a condition once per source. A source that holds a
// secret argument's value is compiled each time, never kept.
func (r *Reconciler) condition(source string, secrets analysis.Redactor) (*analysis.Condition, error) {
	if source == "" {
		return nil, nil
	}
	if secrets.Contains(source) {
		return analysis.Compile(source)
	}
	if c, ok := r.conditions.Get(source); ok {
		return c.(*analysis.Condition), nil
	}
	c, err := analysis.Compile(source)
	if err != nil {
		return nil, err
	}
	r.conditions.Add(source, c)
	return c, nil
}

// measurer is one reconcile of a run.
type measurer struct {
	r      *Reconciler
	run    *v1alpha1.AnalysisRun
	status *v1alpha1.AnalysisRunStatus
	now    time.Time
	// next is the soonest time a measurement falls due.
	next time.Time
	// secrets are the arguments read from Secrets, and redactor hides
	// their values in whatever the run stores.
	secrets  map[string]analysis.SecretRef
	redactor analysis.Redactor
}

func (m *measurer) key() types.NamespacedName {
	return types.NamespacedName{Namespace: m.run.Namespace, Name: m.run.Name}
}

func (m *measurer) due(t time.Time) {
	if m.next.IsZero() || t.Before(m.next) {
		m.next = t
	}
}

// measure takes what is due into m.status. It returns an error only for a
// failure worth retrying as it is (nothing is recorded).
func (m *measurer) measure(ctx context.Context) error {
	st := m.status
	if st.StartedAt == nil {
		t := metav1.NewTime(m.now)
		st.StartedAt = &t
		st.Phase = v1alpha1.AnalysisPhaseRunning
	}
	args, err := m.args(ctx)
	var transient *transientError
	if errors.As(err, &transient) {
		return err
	}
	if err != nil {
		m.finish(v1alpha1.AnalysisPhaseError, err.Error())
		return nil
	}
	terminating := m.run.Spec.Terminate
	for _, res := range st.MetricResults {
		if !res.DryRun && (res.Phase == v1alpha1.AnalysisPhaseFailed || res.Phase == v1alpha1.AnalysisPhaseError || res.Phase == v1alpha1.AnalysisPhaseInconclusive) {
			terminating = true
		}
	}
	var phases []v1alpha1.AnalysisPhase
	var message string
	summary, dry := v1alpha1.RunSummary{}, v1alpha1.RunSummary{}
	for _, metric := range m.run.Spec.Metrics {
		res := m.result(metric.Name)
		phase, msg := m.metric(ctx, metric, res, args, terminating)
		res.Phase = phase
		res.Message = msg
		sum := &summary
		if res.DryRun {
			sum = &dry
		} else {
			phases = append(phases, phase)
			if message == "" && (phase == v1alpha1.AnalysisPhaseFailed || phase == v1alpha1.AnalysisPhaseError || phase == v1alpha1.AnalysisPhaseInconclusive) {
				message = msg
			}
		}
		count(sum, phase)
	}
	st.RunSummary = summary
	st.DryRunSummary = nil
	if dry.Count > 0 {
		st.DryRunSummary = &dry
	}
	phase, _ := analysis.RunPhase(phases)
	if terminating && !phase.Completed() {
		phase = v1alpha1.AnalysisPhaseSuccessful
	}
	if phase.Completed() {
		m.finish(phase, message)
		return nil
	}
	st.Phase = phase
	st.Message = message
	return nil
}

func count(s *v1alpha1.RunSummary, p v1alpha1.AnalysisPhase) {
	s.Count++
	switch p {
	case v1alpha1.AnalysisPhaseSuccessful:
		s.Successful++
	case v1alpha1.AnalysisPhaseFailed:
		s.Failed++
	case v1alpha1.AnalysisPhaseInconclusive:
		s.Inconclusive++
	case v1alpha1.AnalysisPhaseError:
		s.Error++
	}
}

func (m *measurer) finish(phase v1alpha1.AnalysisPhase, message string) {
	m.status.Phase = phase
	m.status.Message = message
	if m.status.CompletedAt == nil {
		t := metav1.NewTime(m.now)
		m.status.CompletedAt = &t
	}
	m.next = time.Time{}
}

// result is the status entry of a metric, created when missing.
func (m *measurer) result(name string) *v1alpha1.MetricResult {
	for i := range m.status.MetricResults {
		if m.status.MetricResults[i].Name == name {
			return &m.status.MetricResults[i]
		}
	}
	m.status.MetricResults = append(m.status.MetricResults, v1alpha1.MetricResult{
		Name: name, Phase: v1alpha1.AnalysisPhasePending, DryRun: analysis.DryRun(m.run.Spec, name),
	})
	return &m.status.MetricResults[len(m.status.MetricResults)-1]
}

// metric takes the metric's measurement if one is due (or resumes the one
// under way) and returns its phase and message.
func (m *measurer) metric(ctx context.Context, metric v1alpha1.Metric, res *v1alpha1.MetricResult, args map[string]string, terminating bool) (v1alpha1.AnalysisPhase, string) {
	if res.Phase.Completed() {
		return res.Phase, res.Message
	}
	resolved, err := analysis.JobSecrets(metric, m.secrets)
	if err == nil {
		resolved, err = analysis.Substitute(resolved, args)
	}
	if err != nil {
		return v1alpha1.AnalysisPhaseError, err.Error()
	}
	limits, err := analysis.ResolveLimits(resolved)
	if err != nil {
		return v1alpha1.AnalysisPhaseError, err.Error()
	}
	provider, err := m.r.Providers.For(resolved)
	if err != nil {
		return v1alpha1.AnalysisPhaseError, err.Error()
	}
	req := analysis.Request{Run: m.run, Metric: resolved}
	// waiting is set while the provider's answer is still to come: the
	// run is woken up when it comes.
	waiting := false
	if n := len(res.Measurements); n > 0 && !res.Measurements[n-1].Phase.Completed() {
		last := &res.Measurements[n-1]
		switch {
		case terminating:
			m.r.calls.forgetMetric(m.key(), metric.Name)
			if err := provider.Terminate(ctx, req, last); err != nil {
				m.due(m.now.Add(time.Second))
				return v1alpha1.AnalysisPhaseRunning, ""
			}
			m.complete(res, last, analysis.Outcome{Phase: v1alpha1.AnalysisPhaseSuccessful, Text: "terminated"}, nil, metric)
			last.Message = "Metric terminated"
		default:
			// Resumed on every reconcile: a watched Job's completion
			// brings the run back before its poll time.
			seen := last.DeepCopy()
			out, err, _, ok := m.r.calls.do(ctx, m.run, metric.Name, m.now, func(ctx context.Context) (analysis.Outcome, error) {
				return provider.Resume(ctx, req, seen)
			})
			if waiting = !ok; ok {
				m.complete(res, last, out, err, resolved)
				m.collect(ctx, provider, req, res, metric.Name)
			}
		}
	} else if terminating {
		m.r.calls.forgetMetric(m.key(), metric.Name)
	} else if when, ok := analysis.Next(resolved, limits, *res, m.status.StartedAt.Time); ok {
		if when.After(m.now) {
			m.due(when)
		} else {
			out, err, started, ok := m.r.calls.do(ctx, m.run, metric.Name, m.now, func(ctx context.Context) (analysis.Outcome, error) {
				return provider.Measure(ctx, req)
			})
			if waiting = !ok; ok {
				meas := v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: ptrTime(started)}
				m.complete(res, &meas, out, err, resolved)
				res.Measurements = append(res.Measurements, meas)
				if keep := analysis.Retention(m.run.Spec, metric.Name); len(res.Measurements) > keep {
					res.Measurements = append([]v1alpha1.Measurement(nil), res.Measurements[len(res.Measurements)-keep:]...)
				}
				m.collect(ctx, provider, req, res, metric.Name)
			}
		}
	}
	if waiting {
		m.due(m.now.Add(pollWhileWaiting))
		return analysis.MetricPhase(limits, *res, terminating), ""
	}
	phase := analysis.MetricPhase(limits, *res, terminating)
	if !phase.Completed() {
		if when, ok := analysis.Next(resolved, limits, *res, m.status.StartedAt.Time); ok {
			m.due(when)
		}
	}
	return phase, metricMessage(resolved, phase, limits, *res)
}

// collect asks the provider to remove what finished measurements beyond
// measurementRetention left behind (a Job's), once one has finished.
func (m *measurer) collect(ctx context.Context, provider analysis.Provider, req analysis.Request, res *v1alpha1.MetricResult, metric string) {
	n := len(res.Measurements)
	keep := analysis.Retention(m.run.Spec, metric)
	if n == 0 || !res.Measurements[n-1].Phase.Completed() || int(res.Count+res.Error) <= keep {
		return
	}
	if err := provider.GarbageCollect(ctx, req, keep); err != nil {
		m.due(m.now.Add(time.Second))
	}
}

// complete fills a measurement in from what the provider said: still
// running, decided by the provider, judged by the conditions, or an Error
// with the cause.
func (m *measurer) complete(res *v1alpha1.MetricResult, meas *v1alpha1.Measurement, out analysis.Outcome, err error, metric v1alpha1.Metric) {
	switch {
	case err != nil:
		meas.Phase = v1alpha1.AnalysisPhaseError
		meas.Message = err.Error()
	case out.Running:
		meas.Phase = v1alpha1.AnalysisPhaseRunning
		meas.Metadata = out.Metadata
		if meas.ResumeAt == nil || !meas.ResumeAt.After(m.now) {
			// The next look, unless a watch event comes first; unchanged
			// while it lies ahead, so a look that finds nothing new writes
			// nothing.
			meas.ResumeAt = ptrTime(m.now.Add(max(out.Poll, time.Second)))
		}
		m.due(meas.ResumeAt.Time)
		return
	case out.Phase != "":
		meas.Phase = out.Phase
		meas.Value = out.Text
	default:
		meas.Value = out.Text
		meas.Phase, err = m.judge(out.Value, metric)
		if err != nil {
			meas.Message = err.Error()
		} else if isEmpty(out.Value) && meas.Phase != v1alpha1.AnalysisPhaseSuccessful {
			meas.Message = "the query returned no data"
		}
	}
	meas.Metadata = out.Metadata
	meas.FinishedAt = ptrTime(m.now)
	meas.ResumeAt = nil
	analysis.Record(res, meas.Phase)
}

func (m *measurer) judge(value any, metric v1alpha1.Metric) (v1alpha1.AnalysisPhase, error) {
	success, err := m.r.condition(metric.SuccessCondition, m.redactor)
	if err != nil {
		return v1alpha1.AnalysisPhaseError, err
	}
	failure, err := m.r.condition(metric.FailureCondition, m.redactor)
	if err != nil {
		return v1alpha1.AnalysisPhaseError, err
	}
	return analysis.Judge(value, success, failure)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

// metricMessage explains a metric that ended badly, as Argo Rollouts does:
// `Metric "rate" assessed Failed due to failed (2) > failureLimit (1)`.
func metricMessage(metric v1alpha1.Metric, phase v1alpha1.AnalysisPhase, l analysis.Limits, r v1alpha1.MetricResult) string {
	name := metric.Name
	var why string
	switch phase {
	case v1alpha1.AnalysisPhaseFailed:
		why = fmt.Sprintf("failed (%d) > failureLimit (%d)", r.Failed, l.FailureLimit)
	case v1alpha1.AnalysisPhaseInconclusive:
		why = fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d)", r.Inconclusive, l.InconclusiveLimit)
	case v1alpha1.AnalysisPhaseError:
		why = fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d)", r.ConsecutiveError, l.ConsecutiveErrorLimit)
	default:
		return ""
	}
	msg := fmt.Sprintf("Metric %q assessed %s due to %s", name, phase, why)
	if n := len(r.Measurements); n > 0 {
		last := r.Measurements[n-1]
		if last.Value != "" {
			msg += fmt.Sprintf("; last value %s", last.Value)
			switch {
			case metric.SuccessCondition != "":
				msg += fmt.Sprintf(" against successCondition %s", metric.SuccessCondition)
			case metric.FailureCondition != "":
				msg += fmt.Sprintf(" against failureCondition %s", metric.FailureCondition)
			}
		}
		if last.Message != "" {
			msg += ": " + last.Message
		}
	}
	return msg
}

// args resolves the run's arguments: values, and Secret keys read when
// needed (never written anywhere; m.redactor hides them). One without a
// value, or naming a Secret or key that does not exist, is an error naming
// it; any other failure to read a Secret is a *transientError, retried.
func (m *measurer) args(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	var secretValues []string
	defer func() { m.redactor = analysis.NewRedactor(secretValues...) }()
	for _, a := range m.run.Spec.Args {
		switch {
		case a.Value != nil:
			out[a.Name] = *a.Value
		case a.ValueFrom != nil && a.ValueFrom.SecretKeyRef != nil:
			ref := a.ValueFrom.SecretKeyRef
			secret := &corev1.Secret{}
			reader := m.r.APIReader
			if reader == nil {
				reader = m.r.Client
			}
			if err := reader.Get(ctx, ctrl.ObjectKey{Namespace: m.run.Namespace, Name: ref.Name}, secret); err != nil {
				if apierrors.IsNotFound(err) {
					return nil, fmt.Errorf("argument %q: Secret %s does not exist", a.Name, ref.Name)
				}
				return nil, &transientError{fmt.Errorf("argument %q: reading Secret %s: %w", a.Name, ref.Name, err)}
			}
			v, ok := secret.Data[ref.Key]
			if !ok {
				return nil, fmt.Errorf("argument %q: Secret %s has no key %q", a.Name, ref.Name, ref.Key)
			}
			out[a.Name] = string(v)
			secretValues = append(secretValues, string(v))
			if m.secrets == nil {
				m.secrets = map[string]analysis.SecretRef{}
			}
			m.secrets[a.Name] = analysis.SecretRef{Name: ref.Name, Key: ref.Key}
		case a.ValueFrom != nil && a.ValueFrom.FieldRef != nil:
			return nil, fmt.Errorf("argument %q: fieldRef %s is resolved when a Rollout creates the run; a run created by hand needs a value", a.Name, a.ValueFrom.FieldRef.FieldPath)
		default:
			return nil, fmt.Errorf("argument %q has no value", a.Name)
		}
	}
	return out, nil
}

// transientError is a failure that retrying may cure.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}
