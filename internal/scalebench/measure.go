package scalebench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/controllerprocess"
)

// Report holds a run's figures.
type Report struct {
	// Kind is what the fleet was made of (KindRollouts, KindDeployments).
	Kind            string
	Rollouts        int
	CreateToHealthy time.Duration
	// Drain is how long API writes went on after the fleet was Healthy.
	Drain       time.Duration
	BaselineRSS int64
	RestRSS     int64
	RestCPU     float64
	RestWrites  Writes
	// ReleaseWrites are the API writes of the release of the whole fleet
	// (leases left out).
	ReleaseWrites Writes
	UpdateP50     time.Duration
	UpdateP99     time.Duration
	UpdateMax     time.Duration
	// ReleaseCPU is where the machine's processor time went during the
	// release of the whole fleet.
	ReleaseCPU ReleaseCPU
	PeakRSS    int64
	// OneAmongRest is the time from one rollout's new pod being ready to
	// the rollout being Healthy, while the rest of the fleet rests.
	OneAmongRest time.Duration
}

// fleet watches the bench namespace's Rollouts and records when each one
// last changed into a state the run waits for.
type fleet struct {
	cache  cache.Cache
	cancel context.CancelFunc
	// progress, when set, receives a summary of the rollouts still on
	// their way every 10 seconds.
	progress io.Writer

	mu      sync.Mutex
	kind    kind
	want    func(client.Object) bool
	reachAt map[string]time.Time
	changed chan struct{}
}

func watchFleet(ctx context.Context, cfg *rest.Config, k kind) (*fleet, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: app.Scheme(), DefaultNamespaces: map[string]cache.Config{Namespace: {}}})
	if err != nil {
		return nil, err
	}
	inf, err := c.GetInformer(ctx, k.proto())
	if err != nil {
		return nil, err
	}
	f := &fleet{cache: c, kind: k, reachAt: map[string]time.Time{}, changed: make(chan struct{}, 1)}
	look := func(obj any) {
		ro, ok := obj.(client.Object)
		if !ok {
			return
		}
		now := time.Now()
		f.mu.Lock()
		if f.want != nil && f.want(ro) {
			if _, seen := f.reachAt[ro.GetName()]; !seen {
				f.reachAt[ro.GetName()] = now
			}
		} else {
			delete(f.reachAt, ro.GetName())
		}
		f.mu.Unlock()
		select {
		case f.changed <- struct{}{}:
		default:
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: look, UpdateFunc: func(_, obj any) { look(obj) }}); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { _ = c.Start(runCtx) }()
	if !c.WaitForCacheSync(ctx) {
		cancel()
		return nil, fmt.Errorf("the fleet's watch did not start")
	}
	return f, nil
}

func (f *fleet) stop() { f.cancel() }

// waitAll waits until every named rollout is in the wanted state. The
// time each got there is kept for reached.
func (f *fleet) waitAll(ctx context.Context, timeout time.Duration, names []string, want func(client.Object) bool) error {
	f.mu.Lock()
	f.want = want
	f.reachAt = map[string]time.Time{}
	f.mu.Unlock()
	// Look at what the cache holds now: the state may already be there.
	items, err := f.items(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	f.mu.Lock()
	for _, obj := range items {
		if want(obj) {
			if _, seen := f.reachAt[obj.GetName()]; !seen {
				f.reachAt[obj.GetName()] = now
			}
		}
	}
	f.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	nextReport := time.Now().Add(10 * time.Second)
	for {
		if f.progress != nil && time.Now().After(nextReport) {
			nextReport = time.Now().Add(10 * time.Second)
			f.report(ctx, names)
		}
		f.mu.Lock()
		missing := 0
		var example string
		for _, n := range names {
			if _, ok := f.reachAt[n]; !ok {
				missing++
				example = n
			}
		}
		f.mu.Unlock()
		if missing == 0 {
			return nil
		}
		select {
		case <-f.changed:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			obj := f.kind.proto()
			_ = f.cache.Get(ctx, types.NamespacedName{Namespace: Namespace, Name: example}, obj)
			return fmt.Errorf("%d %s not there after %s; %s: %s", missing, f.kind.name, timeout, example, f.kind.status(obj))
		}
	}
}

// report prints how many rollouts are still on their way, by status
// message.
func (f *fleet) report(ctx context.Context, names []string) {
	items, err := f.items(ctx)
	if err != nil {
		return
	}
	f.mu.Lock()
	byMessage := map[string]int{}
	waiting := 0
	for _, obj := range items {
		if _, ok := f.reachAt[obj.GetName()]; !ok {
			waiting++
			byMessage[generic(f.kind.status(obj))]++
		}
	}
	f.mu.Unlock()
	var lines []string
	for m, n := range byMessage {
		lines = append(lines, fmt.Sprintf("%6d  %s", n, m))
	}
	slices.Sort(lines)
	slices.Reverse(lines)
	fmt.Fprintf(f.progress, "  ... %d on their way:\n", waiting)
	for i, l := range lines {
		if i == 5 {
			break
		}
		fmt.Fprintf(f.progress, "  %s\n", l)
	}
}

// items lists the fleet from the cache.
func (f *fleet) items(ctx context.Context) ([]client.Object, error) {
	list := f.kind.list()
	if err := f.cache.List(ctx, list, client.InNamespace(Namespace)); err != nil {
		return nil, err
	}
	var out []client.Object
	err := meta.EachListItem(list, func(o kruntime.Object) error {
		out = append(out, o.(client.Object))
		return nil
	})
	return out, err
}

// generic replaces the words of a message that carry digits (names,
// hashes, counts) with "*", so that rollouts in the same state share it.
func generic(msg string) string {
	words := strings.Fields(msg)
	for i, w := range words {
		if strings.ContainsAny(w, "0123456789") {
			words[i] = "*"
		}
	}
	return strings.Join(words, " ")
}

func (f *fleet) reached(name string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reachAt[name]
}

// releaseOne updates one rollout and returns the time from its new pod's
// readiness, as a watch of the pods sees it, to its Healthy status, as a
// watch of the rollouts sees it.
func releaseOne(ctx context.Context, cl client.Client, kube kubernetes.Interface, f *fleet, name string, timeout time.Duration) (time.Duration, error) {
	obj := f.kind.proto()
	if err := cl.Get(ctx, types.NamespacedName{Namespace: Namespace, Name: name}, obj); err != nil {
		return 0, err
	}
	old := f.kind.podHash(obj)
	var oldPods = map[string]bool{}
	var ready time.Time
	var mu sync.Mutex
	pods := toolscache.NewSharedInformer(toolscache.NewFilteredListWatchFromClient(kube.CoreV1().RESTClient(), "pods", Namespace, func(o *metav1.ListOptions) {
		o.LabelSelector = "app=" + name
	}), &corev1.Pod{}, 0)
	look := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		mu.Lock()
		isOld := oldPods[p.Name]
		mu.Unlock()
		if isOld || (old != "" && p.Labels[v1alpha1.DefaultRolloutUniqueLabelKey] == old) {
			return
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				mu.Lock()
				if ready.IsZero() {
					ready = time.Now()
				}
				mu.Unlock()
			}
		}
	}
	_, _ = pods.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: look, UpdateFunc: func(_, obj any) { look(obj) }})
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go pods.Run(pctx.Done())
	// The pods there before the update are the old ones.
	mu.Lock()
	for _, o := range pods.GetStore().List() {
		oldPods[o.(*corev1.Pod).Name] = true
	}
	ready = time.Time{}
	mu.Unlock()
	if err := cl.Patch(ctx, obj, client.RawPatch(types.MergePatchType, imagePatch("example/app:3"))); err != nil {
		return 0, err
	}
	if err := f.waitAll(ctx, timeout, []string{name}, func(o client.Object) bool { return f.kind.done(o, "example/app:3") }); err != nil {
		return 0, err
	}
	mu.Lock()
	defer mu.Unlock()
	if ready.IsZero() {
		return 0, fmt.Errorf("rollout %s is Healthy but its new pod was not seen ready", name)
	}
	return f.reached(name).Sub(ready), nil
}

// Writes are API writes (POST, PUT, PATCH, DELETE) by resource, from the
// API server's apiserver_request_total.
type Writes map[string]float64

func (w Writes) minus(o Writes) Writes {
	out := Writes{}
	for k, v := range w {
		if d := v - o[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// per is the counts divided by n, with their sum first.
func (w Writes) per(n int) string {
	return fmt.Sprintf("%.1f in all: %s", w.total()/float64(n), w.format(float64(n), "%s %.2f"))
}

func (w Writes) total() float64 {
	var t float64
	for _, v := range w {
		t += v
	}
	return t
}

func (w Writes) String() string {
	if len(w) == 0 {
		return "none"
	}
	return w.format(1, "%s %.0f")
}

// format lists resource and count divided by n, by resource name.
func (w Writes) format(n float64, layout string) string {
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf(layout, k, w[k]/n))
	}
	return strings.Join(parts, ", ")
}

// apiWrites reads the API server's request counters.
type apiWrites struct{ kube kubernetes.Interface }

func (a *apiWrites) read(ctx context.Context) (Writes, error) {
	body, err := a.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out := Writes{}
	fam := families["apiserver_request_total"]
	if fam == nil {
		return out, nil
	}
	for _, m := range fam.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		switch labels["verb"] {
		case "POST", "PUT", "PATCH", "DELETE", "CREATE", "UPDATE", "APPLY", "DELETECOLLECTION":
		default:
			continue
		}
		key := labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		out[key] += m.GetCounter().GetValue()
	}
	return out, nil
}

// quiet waits until no write was made for the given stretch, and returns
// how long after the call the last write was seen.
func (a *apiWrites) quiet(ctx context.Context, stretch, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	last, err := a.read(ctx)
	if err != nil {
		return 0, err
	}
	lastChange := start
	for time.Since(lastChange) < stretch {
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("API writes still going on after %s: %s", timeout, last)
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		now, err := a.read(ctx)
		if err != nil {
			return 0, err
		}
		if now.minus(last).total() > 0 && !onlyLeases(now.minus(last)) {
			lastChange = time.Now()
		}
		last = now
	}
	return lastChange.Sub(start), nil
}

// onlyLeases: leader election renews its Lease every few seconds, at rest
// too, as any HA controller does.
func onlyLeases(w Writes) bool {
	for k := range w {
		if k != "leases" {
			return false
		}
	}
	return true
}

// ReleaseCPU is the processor time of a release, in cores: what the
// controller used, what the in-process cluster used (API server, etcd,
// kube-controller-manager, simulated nodes and this bench's watches), and
// how busy the whole machine was.
type ReleaseCPU struct {
	Controller float64
	Cluster    float64
	// Busy is the machine's share of non-idle time, 0 to 1, over Cores.
	Busy  float64
	Cores int
}

// cpuClock reads the processor time of the controller, of this process and
// of the machine at one moment.
type cpuClock struct {
	at                  time.Time
	controller, cluster time.Duration
	machineBusy, total  int64
}

func readCPU(controllerPID int) cpuClock {
	busy, total := machineCPU()
	return cpuClock{at: time.Now(), controller: controllerprocess.CPU(controllerPID), cluster: controllerprocess.CPU(os.Getpid()), machineBusy: busy, total: total}
}

// since is the use between c0 and c.
func (c cpuClock) since(c0 cpuClock) ReleaseCPU {
	wall := c.at.Sub(c0.at).Seconds()
	out := ReleaseCPU{Cores: goruntime.NumCPU()}
	if wall <= 0 {
		return out
	}
	out.Controller = (c.controller - c0.controller).Seconds() / wall
	out.Cluster = (c.cluster - c0.cluster).Seconds() / wall
	if d := c.total - c0.total; d > 0 {
		out.Busy = float64(c.machineBusy-c0.machineBusy) / float64(d)
	}
	return out
}

// machineCPU is the machine's busy and total clock ticks so far, from the
// first line of /proc/stat (idle and iowait count as not busy).
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	var idle int64
	for i, f := range fields[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return total - idle, total
}
