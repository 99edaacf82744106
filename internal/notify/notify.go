package notify

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/argoproj/notifications-engine/pkg/services"
	"github.com/argoproj/notifications-engine/pkg/subscriptions"
	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Reading ramp-notification-configmap: in the controller's namespace (its
// Role), and with self-service in the namespaces of the objects.
// +kubebuilder:rbac:groups="",resources=configmaps,resourceNames=ramp-notification-configmap,verbs=get

// Annotation prefixes of subscriptions: Ramp's, and Argo Rollouts' (read
// too, so that migrated manifests keep working).
const (
	AnnotationPrefix     = "notifications.ramp.dev"
	ArgoAnnotationPrefix = "notifications.argoproj.io"
)

// NotifiedAnnotation records the deliveries made for an object: a JSON
// object from delivery key to the Unix time it was sent.
const NotifiedAnnotation = "notified." + AnnotationPrefix

// maxRecorded bounds NotifiedAnnotation; the oldest deliveries go first.
const maxRecorded = 100

// Retries of a failing delivery: exponential from retryBase to retryMax,
// at most maxAttempts times.
const (
	retryBase   = time.Second
	retryMax    = 5 * time.Minute
	maxAttempts = 12
	queueBound  = 10_000
)

// Options configure a Notifier.
type Options struct {
	// Reader reads the configuration past the cache (the API reader).
	Reader client.Reader
	// Objects reads an object's delivery record: the manager's cache.
	Objects client.Reader
	// Writer records deliveries on objects (a merge patch of the
	// annotation).
	Writer client.Writer
	// Namespace holds ramp-notification-configmap and
	// ramp-notification-secret: the controller's.
	Namespace string
	// Clock tells the time of deliveries; nil is the real clock.
	Clock clock.PassiveClock
	// Log reports failed deliveries.
	Log logr.Logger
	// Workers send at once (default 2).
	Workers int
	// SelfService reads a configuration in the namespace of each object
	// too (--self-service-notification-enabled), evaluated on its own, as
	// Argo Rollouts does.
	SelfService bool
	// Sent, when set, is told of each delivery and its outcome (metrics).
	Sent func(kind, namespace, name, eventType, reason string, err error, took time.Duration)
}

// Notifier queues the events the controller records and delivers the
// notifications their triggers send.
type Notifier struct {
	opts  Options
	clock clock.PassiveClock
	queue workqueue.TypedRateLimitingInterface[uint64]

	mu   sync.Mutex
	jobs map[uint64]*job
	next atomic.Uint64

	// recordMu guards records: the delivery records of the objects this
	// process delivered for, read from the cache once, then kept (the
	// cache lags the process's own writes).
	recordMu sync.Mutex
	records  map[objectKey]map[string]int64

	configsMu sync.Mutex
	// configs are the configurations read, by namespace.
	configs map[string]*configs
}

// configsIn is the configuration of namespace.
func (n *Notifier) configsIn(namespace string) *configs {
	n.configsMu.Lock()
	defer n.configsMu.Unlock()
	c, ok := n.configs[namespace]
	if !ok {
		c = &configs{reader: n.opts.Reader, namespace: namespace, now: n.clock.Now}
		n.configs[namespace] = c
	}
	return c
}

// job is one recorded event to deliver.
type job struct {
	gvk             schema.GroupVersionKind
	namespace, name string
	eventType       string
	reason          string
	trigger         string
	// occasion tells one event of a trigger from another of the same
	// release: the hash of the event's message.
	occasion string
	// release is what a delivery is once per: a rollout's pod-template
	// hash and generation, another object's UID.
	release string
	obj     map[string]any
}

// New builds a Notifier; Start runs its workers.
func New(opts Options) *Notifier {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	n := &Notifier{
		opts:    opts,
		clock:   clk,
		configs: map[string]*configs{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[uint64](retryBase, retryMax),
			workqueue.TypedRateLimitingQueueConfig[uint64]{Name: "notifications"}),
		jobs:    map[uint64]*job{},
		records: map[objectKey]map[string]int64{},
	}
	return n
}

// Recorder records events with r and queues those on rollouts, runs and
// experiments for delivery. It never blocks: when the queue is full, the
// event is recorded and its notification dropped (and logged).
func (n *Notifier) Recorder(r events.EventRecorder) events.EventRecorder {
	if n == nil {
		return r
	}
	return recorder{EventRecorder: r, n: n}
}

type recorder struct {
	events.EventRecorder
	n *Notifier
}

func (r recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
	if reason != "" {
		r.n.enqueue(regarding, eventtype, reason, fmt.Sprintf(note, args...))
	}
}

func (n *Notifier) enqueue(regarding runtime.Object, eventType, reason, message string) {
	var release string
	var gvk schema.GroupVersionKind
	switch o := regarding.(type) {
	case *v1alpha1.Rollout:
		// The release: its pod template, at this generation (a rollback
		// to an earlier template is a new generation).
		release, gvk = fmt.Sprintf("%s@%d", o.Status.CurrentPodHash, o.Generation), v1alpha1.GroupVersion.WithKind("Rollout")
	case *v1alpha1.AnalysisRun:
		release, gvk = string(o.UID), v1alpha1.GroupVersion.WithKind("AnalysisRun")
	case *v1alpha1.Experiment:
		release, gvk = string(o.UID), v1alpha1.GroupVersion.WithKind("Experiment")
	default:
		return
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(regarding)
	if err != nil {
		n.opts.Log.Error(err, "notifications: converting the object")
		return
	}
	meta := regarding.(metav1.Object)
	sum := sha1.Sum([]byte(reason + "\x00" + message))
	j := &job{gvk: gvk, namespace: meta.GetNamespace(), name: meta.GetName(), eventType: eventType, reason: reason,
		trigger: TriggerName(reason), occasion: base64.RawURLEncoding.EncodeToString(sum[:6]), release: release, obj: obj}
	n.mu.Lock()
	if len(n.jobs) >= queueBound {
		n.mu.Unlock()
		n.opts.Log.Info("notifications: queue full, dropping", "trigger", j.trigger, "namespace", j.namespace, "name", j.name)
		return
	}
	id := n.next.Add(1)
	n.jobs[id] = j
	n.mu.Unlock()
	n.queue.Add(id)
}

// Pending is how many events wait for delivery.
func (n *Notifier) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.jobs)
}

// Start runs the workers until ctx ends (a manager Runnable).
func (n *Notifier) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range n.opts.Workers {
		wg.Go(func() {
			for n.work(ctx) {
			}
		})
	}
	<-ctx.Done()
	n.queue.ShutDown()
	wg.Wait()
	return nil
}

// NeedLeaderElection is true: the replica that reconciles records the
// events, and it alone delivers them.
func (n *Notifier) NeedLeaderElection() bool { return true }

func (n *Notifier) work(ctx context.Context) bool {
	id, shutdown := n.queue.Get()
	if shutdown {
		return false
	}
	defer n.queue.Done(id)
	n.mu.Lock()
	j := n.jobs[id]
	n.mu.Unlock()
	if j == nil {
		n.queue.Forget(id)
		return true
	}
	err := n.deliver(ctx, j)
	if err != nil && n.queue.NumRequeues(id) < maxAttempts-1 && ctx.Err() == nil {
		n.opts.Log.Error(err, "notifications: delivery failed; retrying", "trigger", j.trigger, "namespace", j.namespace, "name", j.name)
		n.queue.AddRateLimited(id)
		return true
	}
	if err != nil {
		n.opts.Log.Error(err, "notifications: delivery failed; giving up", "trigger", j.trigger, "namespace", j.namespace, "name", j.name)
	}
	n.queue.Forget(id)
	n.mu.Lock()
	delete(n.jobs, id)
	n.mu.Unlock()
	return true
}

// destinations are the subscribers of trigger: the configuration's global
// subscriptions matching the object's labels, then its annotations (Ramp's
// and Argo's prefixes).
func destinations(l *loaded, trigger string, obj map[string]any) []services.Destination {
	meta, _ := obj["metadata"].(map[string]any)
	labels := map[string]string{}
	if m, ok := meta["labels"].(map[string]any); ok {
		for k, v := range m {
			labels[k] = fmt.Sprint(v)
		}
	}
	annotations := map[string]string{}
	if m, ok := meta["annotations"].(map[string]any); ok {
		for k, v := range m {
			// The engine reads Argo's prefix: Ramp's is read as if it were.
			if rest, ok := strings.CutPrefix(k, AnnotationPrefix+"/"); ok {
				k = ArgoAnnotationPrefix + "/" + rest
			}
			annotations[k] = fmt.Sprint(v)
		}
	}
	var out []services.Destination
	seen := map[services.Destination]bool{}
	add := func(ds []services.Destination) {
		for _, d := range ds {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	add(l.cfg.GetGlobalDestinations(labels)[trigger])
	add(subscriptions.NewAnnotations(annotations).GetDestinations(l.cfg.DefaultTriggers, l.cfg.ServiceDefaultTriggers)[trigger])
	return out
}

// deliver sends what j's trigger sends to each subscriber not yet sent to,
// recording each delivery on the object: by the controller's
// configuration, and with self-service by the object's namespace's too.
func (n *Notifier) deliver(ctx context.Context, j *job) error {
	err := n.deliverBy(ctx, j, n.opts.Namespace)
	if n.opts.SelfService && j.namespace != n.opts.Namespace {
		if nsErr := n.deliverBy(ctx, j, j.namespace); err == nil {
			err = nsErr
		}
	}
	return err
}

// deliverBy delivers j by the configuration of namespace.
func (n *Notifier) deliverBy(ctx context.Context, j *job, namespace string) error {
	l, err := n.configsIn(namespace).get(ctx)
	if err != nil {
		return err
	}
	if l.cfg == nil {
		return nil
	}
	conditions, ok := l.cfg.Triggers[j.trigger]
	if !ok {
		return nil
	}
	dests := destinations(l, j.trigger, j.obj)
	if len(dests) == 0 {
		return nil
	}
	results, err := l.api.RunTrigger(j.trigger, j.obj)
	if err != nil {
		return fmt.Errorf("trigger %s: %w", j.trigger, err)
	}
	var firstErr error
	for i, c := range conditions {
		// As in Argo Rollouts' event path: a condition without `when`
		// sends whenever its event is recorded.
		if c.When != "" && (i >= len(results) || !results[i].Triggered) {
			continue
		}
		for _, d := range dests {
			key := strings.Join([]string{j.release, j.trigger, fmt.Sprint(i), j.occasion, d.Service, d.Recipient}, ":")
			if namespace != n.opts.Namespace {
				key = namespace + "/" + key // another configuration's delivery
			}
			todo, err := n.claim(ctx, j, key)
			if err != nil {
				return err
			}
			if !todo {
				continue
			}
			start := n.clock.Now()
			err = l.api.Send(j.obj, c.Send, d)
			if n.opts.Sent != nil {
				n.opts.Sent(j.gvk.Kind, j.namespace, j.name, j.eventType, j.reason, err, n.clock.Since(start))
			}
			if err != nil {
				n.release(j, key)
				if firstErr == nil {
					firstErr = fmt.Errorf("sending %s to %s: %w", j.trigger, d.Service, err)
				}
				continue
			}
			if err := n.record(ctx, j, key); err != nil {
				return err
			}
		}
	}
	return firstErr
}

// objectKey names an object whose deliveries are remembered.
type objectKey struct {
	kind, namespace, name string
}

// maxRemembered bounds the objects whose records are kept in memory; past
// it, they are read again from the cache.
const maxRemembered = 10_000

// recordOf is an object's delivery record: the one this process keeps, or
// else the annotation on the cached object. ok is false when the object is
// gone. n.mu is held.
func (n *Notifier) recordOf(ctx context.Context, j *job) (record map[string]int64, ok bool, err error) {
	key := objectKey{j.gvk.Kind, j.namespace, j.name}
	if r, ok := n.records[key]; ok {
		return r, true, nil
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(j.gvk)
	if err := n.opts.Objects.Get(ctx, client.ObjectKey{Namespace: j.namespace, Name: j.name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	record = map[string]int64{}
	if v := obj.GetAnnotations()[NotifiedAnnotation]; v != "" {
		if err := json.Unmarshal([]byte(v), &record); err != nil {
			record = map[string]int64{} // unreadable: start over rather than stop notifying
		}
	}
	if len(n.records) >= maxRemembered {
		clear(n.records)
	}
	n.records[key] = record
	return record, true, nil
}

// inFlight marks, in a record kept in memory, a delivery being sent.
const inFlight = -1

// claim says whether key is still to be delivered for j's object, and if
// so marks it in flight, so that another worker with the same event (a
// replayed one) does not send it too. A deleted object has nothing left to
// deliver.
func (n *Notifier) claim(ctx context.Context, j *job, key string) (bool, error) {
	n.recordMu.Lock()
	defer n.recordMu.Unlock()
	record, ok, err := n.recordOf(ctx, j)
	if err != nil || !ok {
		return false, err
	}
	if _, taken := record[key]; taken {
		return false, nil
	}
	record[key] = inFlight
	return true, nil
}

// release gives a claim back after a failed send, for a retry.
func (n *Notifier) release(j *job, key string) {
	n.recordMu.Lock()
	defer n.recordMu.Unlock()
	if r, ok := n.records[objectKey{j.gvk.Kind, j.namespace, j.name}]; ok && r[key] == inFlight {
		delete(r, key)
	}
}

// record adds key to the object's record, keeping the newest maxRecorded,
// and writes it to the annotation. Only the leader's notifier writes the
// annotation, under recordMu: a merge patch of it cannot lose a delivery.
func (n *Notifier) record(ctx context.Context, j *job, key string) error {
	n.recordMu.Lock()
	defer n.recordMu.Unlock()
	record, ok, err := n.recordOf(ctx, j)
	if err != nil || !ok {
		return err
	}
	record[key] = n.clock.Now().Unix()
	written := make(map[string]int64, len(record))
	for k, at := range record {
		if at != inFlight {
			written[k] = at
		}
	}
	if len(written) > maxRecorded {
		keys := make([]string, 0, len(written))
		for k := range written {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return written[keys[a]] < written[keys[b]] })
		for _, k := range keys[:len(written)-maxRecorded] {
			delete(written, k)
			delete(record, k)
		}
	}
	b, _ := json.Marshal(written)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{NotifiedAnnotation: string(b)}}})
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(j.gvk)
	obj.SetNamespace(j.namespace)
	obj.SetName(j.name)
	if err := n.opts.Writer.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("recording the delivery on %s %s/%s: %w", j.gvk.Kind, j.namespace, j.name, err)
	}
	return nil
}
