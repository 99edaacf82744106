package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// Annotations that make a simulated pod misbehave.
const (
	// AnnotationReady set to "false" keeps the pod unready.
	AnnotationReady = "sandbox.ramp.dev/ready"
	// AnnotationCrash set to "true" makes the pod's containers crash-loop.
	AnnotationCrash = "sandbox.ramp.dev/crash"
	// AnnotationExitCode is the exit code of a pod whose restartPolicy is
	// Never or OnFailure. Defaults to 0.
	AnnotationExitCode = "sandbox.ramp.dev/exit-code"
	// AnnotationImagePull set to "fail" makes pulling the pod's images fail
	// for ever: its containers wait in ImagePullBackOff and it stays
	// Pending, as with an image that does not exist.
	AnnotationImagePull = "sandbox.ramp.dev/image-pull"
)

// NodeOptions shape the simulated nodes.
type NodeOptions struct {
	// Count is the number of nodes. Defaults to 3.
	Count int
	// ReadyDelay is how long a running pod takes to become ready. Defaults
	// to 300ms.
	ReadyDelay time.Duration
	// RunDuration is how long a pod whose restartPolicy is Never or
	// OnFailure runs before it exits. Defaults to 500ms.
	RunDuration time.Duration
	// CrashPeriod is the time between two restarts of a crash-looping
	// container. Defaults to 1s.
	CrashPeriod time.Duration
	// Server, when set, serves pods for real (the sandbox's demo
	// application): the nodes tell it when a pod runs with its IP, and when
	// it stops.
	Server PodServer
}

// PodServer runs what a pod would run. Run is called each time the nodes
// look at a running pod that has its IP (it must be idempotent); Stop when
// the pod stops, is deleted or is gone.
type PodServer interface {
	Run(pod *corev1.Pod)
	Stop(pod types.NamespacedName)
}

func (o NodeOptions) withDefaults() NodeOptions {
	if o.Count <= 0 {
		o.Count = 3
	}
	if o.ReadyDelay <= 0 {
		o.ReadyDelay = 300 * time.Millisecond
	}
	if o.RunDuration <= 0 {
		o.RunDuration = 500 * time.Millisecond
	}
	if o.CrashPeriod <= 0 {
		o.CrashPeriod = time.Second
	}
	return o
}

// nodeSim plays the kubelets of the simulated nodes (and the scheduler):
// it binds pending pods to nodes, gives them IPs, and reports the container
// states a kubelet would.
type nodeSim struct {
	opts   NodeOptions
	client kubernetes.Interface
	clock  clock.Clock
	ips    *ipPool
	nodes  []string
	pods   cache.Indexer
	queue  workqueue.TypedRateLimitingInterface[types.NamespacedName]

	mu      sync.Mutex
	next    int
	started map[types.UID]time.Time
}

func newNodeSim(client kubernetes.Interface, clk clock.Clock, ips *ipPool, opts NodeOptions) *nodeSim {
	opts = opts.withDefaults()
	s := &nodeSim{opts: opts, client: client, clock: clk, ips: ips, started: map[types.UID]time.Time{}}
	for i := 1; i <= opts.Count; i++ {
		s.nodes = append(s.nodes, fmt.Sprintf("sandbox-node-%d", i))
	}
	s.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName](),
		workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Name: "sandbox-nodes", Clock: clk.(clock.WithTicker)},
	)
	return s
}

// registerNodes creates the Node objects, Ready and with room for many pods.
func (s *nodeSim) registerNodes(ctx context.Context) error {
	for i, name := range s.nodes {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				"kubernetes.io/hostname":        name,
				"kubernetes.io/os":              "linux",
				"topology.kubernetes.io/zone":   "sandbox-zone-" + strconv.Itoa(i%3+1),
				"topology.kubernetes.io/region": "sandbox",
			}},
		}
		created, err := s.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			created, err = s.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		}
		if err != nil {
			return fmt.Errorf("registering node %s: %w", name, err)
		}
		now := metav1.NewTime(s.clock.Now())
		created.Status = corev1.NodeStatus{
			Capacity: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("64"),
				corev1.ResourceMemory: resource.MustParse("256Gi"),
				corev1.ResourcePods:   resource.MustParse("1000"),
			},
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "simulated node", LastHeartbeatTime: now, LastTransitionTime: now,
			}},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
				{Type: corev1.NodeHostName, Address: name},
			},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-ramp-sandbox", OperatingSystem: "linux", Architecture: "amd64"},
		}
		created.Status.Allocatable = created.Status.Capacity
		if _, err := s.client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("reporting node %s ready: %w", name, err)
		}
	}
	return nil
}

// start watches pods and works the queue until ctx is cancelled. The
// returned function waits for the workers to finish.
func (s *nodeSim) start(ctx context.Context, factory informers.SharedInformerFactory) {
	inf := factory.Core().V1().Pods().Informer()
	s.pods = inf.GetIndexer()
	enqueue := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok {
			s.queue.Add(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				s.ips.release(p.Status.PodIP, p.UID)
				s.mu.Lock()
				delete(s.started, p.UID)
				s.mu.Unlock()
			}
		},
	})
	go func() {
		<-ctx.Done()
		s.queue.ShutDown()
	}()
}

func (s *nodeSim) run(ctx context.Context, workers int) {
	done := make(chan struct{})
	for i := 0; i < workers; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for s.processNext(ctx) {
			}
		}()
	}
	for i := 0; i < workers; i++ {
		<-done
	}
}

func (s *nodeSim) processNext(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	requeue, err := s.sync(ctx, key)
	switch {
	case err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
		s.queue.AddRateLimited(key)
	case err != nil:
		s.queue.AddRateLimited(key)
	default:
		s.queue.Forget(key)
		if requeue > 0 {
			s.queue.AddAfter(key, requeue)
		}
	}
	return true
}

// sync moves one pod one step along its life; it returns when to look again.
func (s *nodeSim) sync(ctx context.Context, key types.NamespacedName) (time.Duration, error) {
	obj, exists, err := s.pods.GetByKey(key.String())
	if err != nil || !exists {
		if err == nil && s.opts.Server != nil {
			s.opts.Server.Stop(key)
		}
		return 0, err
	}
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		if s.opts.Server != nil {
			s.opts.Server.Stop(key)
		}
		// The containers stop at once; the kubelet's last word is the final
		// delete.
		err := s.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return 0, nil
		}
		return 0, err
	}
	if pod.Spec.NodeName == "" {
		return 0, s.bind(ctx, pod)
	}
	if !slices.Contains(s.nodes, pod.Spec.NodeName) {
		return 0, nil // another node's pod: not ours to run
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		if s.opts.Server != nil {
			s.opts.Server.Stop(key)
		}
		return 0, nil
	}
	status, requeue, err := s.desiredStatus(pod)
	if err != nil {
		return 0, err
	}
	if s.opts.Server != nil && status.Phase == corev1.PodRunning && status.PodIP != "" {
		running := pod.DeepCopy()
		running.Status = *status
		s.opts.Server.Run(running)
	}
	if apiequality.Semantic.DeepEqual(status, &pod.Status) {
		return requeue, nil
	}
	updated := pod.DeepCopy()
	updated.Status = *status
	if _, err := s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		if !apierrors.IsNotFound(err) {
			s.ips.release(status.PodIP, pod.UID)
		}
		return 0, err
	}
	return requeue, nil
}

// bind assigns the pod to the next node, round robin.
func (s *nodeSim) bind(ctx context.Context, pod *corev1.Pod) error {
	s.mu.Lock()
	node := s.nodes[s.next%len(s.nodes)]
	s.next++
	s.mu.Unlock()
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
