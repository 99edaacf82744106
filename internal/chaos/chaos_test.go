package chaos_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/controllerprocess"
)

var (
	seedFlag     = flag.Int64("chaos.seed", 20261201, "seed of the kills and updates (0: from the clock; a failure prints the one it used); make test runs the default, make chaos a new one each time")
	durationFlag = flag.Duration("chaos.duration", 25*time.Second, "how long the controller is killed and the fleet updated")
	killsFlag    = flag.Int("chaos.kills", 20, "the least number of kills")
	perKindFlag  = flag.Int("chaos.rollouts", 8, "rollouts of each kind")
)

const ns = "chaos"

// fleet is the rollouts under test and the image each should end at.
type fleet struct {
	mu     sync.Mutex
	latest map[string]int // rollout -> image version
}

func blueGreen(name string) []client.Object {
	svc := func(n string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}}
	}
	ro := rollout(name, v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		ActiveService: name + "-active", PreviewService: name + "-preview", ScaleDownDelaySeconds: ptr.To[int32](0),
	}})
	return []client.Object{svc(name + "-active"), svc(name + "-preview"), ro}
}

func canary(name string) []client.Object {
	return []client.Object{rollout(name, v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
		{SetWeight: ptr.To[int32](50)},
		{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intOrString("1s"))}},
	}}})}
}

func rollout(name string, s v1alpha1.RolloutStrategy) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app:1"}}},
			},
			Strategy: s,
		},
	}
}

func image(v int) string { return "example/app:" + strconv.Itoa(v) }

// done says whether a rollout is Healthy at its latest image, and why not.
func done(ro *v1alpha1.Rollout, want string) (bool, string) {
	st := ro.Status
	ok := st.Phase == v1alpha1.RolloutPhaseHealthy && st.ObservedGeneration == strconv.FormatInt(ro.Generation, 10) &&
		st.StableRS != "" && st.StableRS == st.CurrentPodHash && ro.Spec.Template.Spec.Containers[0].Image == want
	return ok, fmt.Sprintf("%s %s at %s: %s", ro.Name, st.Phase, ro.Spec.Template.Spec.Containers[0].Image, st.Message)
}

// ramp-controller, run as its own process and its ServiceAccount, is
// killed with SIGKILL at random moments while blue/green and canary
// rollouts are updated at random; invariants are checked from watches all
// along, and every rollout must reach its latest image once the kills stop.
func TestControllerKilledAtRandom(t *testing.T) {
	ctrl.SetLogger(logr.Discard())
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("chaos: seed %d (replay: go test ./internal/chaos -run TestControllerKilledAtRandom -args -chaos.seed=%d)", seed, seed)
	ctx := t.Context()
	dir := t.TempDir()
	c, admin := clustertest.Start(t)
	if err := clustertest.InstallRBAC(c.Config()); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	// The controller reaches the API server through the kill switch.
	sw, err := newKillSwitch(clustertest.AsController(c.Config()))
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := sw.writeKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	bin, err := controllerprocess.Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	incarnation := 0
	start := func() *controllerprocess.Process {
		incarnation++
		p, err := controllerprocess.Start(ctx, bin, kubeconfig, filepath.Join(dir, fmt.Sprintf("controller-%d.log", incarnation)), leaderFlags...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The watches the invariants are checked from.
	iv := newInvariants()
	watch, err := cache.New(c.Config(), cache.Options{Scheme: app.Scheme(), DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		t.Fatal(err)
	}
	aborted := func(name string) bool {
		ro := &v1alpha1.Rollout{}
		return watch.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ro) == nil && ro.Status.Abort
	}
	on := func(obj client.Object, handle func(o any, deleted bool)) {
		inf, err := watch.GetInformer(ctx, obj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { handle(o, false) },
			UpdateFunc: func(_, o any) { handle(o, false) },
			DeleteFunc: func(o any) {
				if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				handle(o, true)
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	on(&appsv1.ReplicaSet{}, func(o any, deleted bool) {
		if rs, ok := o.(*appsv1.ReplicaSet); ok {
			iv.replicaSet(rs, deleted)
		}
	})
	on(&corev1.Service{}, func(o any, deleted bool) {
		if svc, ok := o.(*corev1.Service); ok && !deleted && strings.HasSuffix(svc.Name, "-active") {
			iv.service(svc, strings.TrimSuffix(svc.Name, "-active"), aborted)
		}
	})
	on(&v1alpha1.Rollout{}, func(any, bool) {})
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() { _ = watch.Start(watchCtx) }()
	if !watch.WaitForCacheSync(ctx) {
		t.Fatal("the watches did not sync")
	}

	// The fleet.
	f := &fleet{latest: map[string]int{}}
	for i := 0; i < *perKindFlag; i++ {
		for _, objs := range [][]client.Object{blueGreen(fmt.Sprintf("bg-%d", i)), canary(fmt.Sprintf("canary-%d", i))} {
			for _, o := range objs {
				if err := admin.Create(ctx, o); err != nil {
					t.Fatal(err)
				}
				if ro, ok := o.(*v1alpha1.Rollout); ok {
					f.latest[ro.Name] = 1
				}
			}
		}
	}
	proc := start()
	converge := func(what string) {
		t.Helper()
		clustertest.Eventually(t, 3*time.Minute, what, func() (bool, string) {
			var why []string
			for name, v := range f.latest {
				ro := &v1alpha1.Rollout{}
				if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
					return false, err.Error()
				}
				if ok, w := done(ro, image(v)); !ok {
					why = append(why, w)
				}
			}
			return len(why) == 0, strings.Join(why, "; ")
		})
	}
	converge("the fleet's first deploy")

	// Chaos: kills and updates until both the time and the kills are done.
	var names []string
	for n := range f.latest {
		names = append(names, n)
	}
	sortStrings(names)
	killRand, updateRand := rand.New(rand.NewSource(seed)), rand.New(rand.NewSource(seed+1))
	began := time.Now()
	kills, updates := 0, 0
	updatesDone := make(chan struct{})
	stopUpdates := make(chan struct{})
	go func() {
		defer close(updatesDone)
		for {
			select {
			case <-stopUpdates:
				return
			case <-time.After(time.Duration(100+updateRand.Intn(700)) * time.Millisecond):
			}
			name := names[updateRand.Intn(len(names))]
			f.mu.Lock()
			f.latest[name]++
			v := f.latest[name]
			f.mu.Unlock()
			patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image(v))
			if err := admin.Patch(ctx, &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
				t.Errorf("updating %s: %v", name, err)
				return
			}
			updates++
		}
	}()
	stalls := 0
	for time.Since(began) < *durationFlag || kills < *killsFlag {
		// Most kills come at a random moment or right after a random write
		// has landed (between two writes of a reconcile); now and then the
		// leader stalls instead, long enough for its Lease to expire.
		switch mode := killRand.Intn(10); {
		case mode < 5:
			<-time.After(time.Duration(200+killRand.Intn(1800)) * time.Millisecond)
			proc.Kill()
		case mode < 9:
			sw.arm(1+killRand.Intn(30), proc.Kill)
			select {
			case <-proc.Done():
			case <-time.After(5 * time.Second): // too few writes: at rest
				sw.disarm()
				proc.Kill()
			}
		default:
			proc = overlap(t, ctx, admin, proc, start)
			stalls++
			continue
		}
		kills++
		proc = start()
	}
	close(stopUpdates)
	<-updatesDone
	defer proc.Stop()

	converge("every rollout at its latest image after the last kill")
	broken := iv.Broken()
	t.Logf("chaos: seed %d, %d kills (%d right after a write), %d stalled leaders overlapping the next, %d controller writes, %d updates, %d invariant checks, %d broken",
		seed, kills, sw.Fired(), stalls, sw.writes.Load(), updates, iv.checks.Load(), len(broken))
	for _, b := range broken {
		t.Errorf("seed %d: %s", seed, b)
	}
	if t.Failed() {
		if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("controller-%d.log", incarnation))); err == nil {
			t.Logf("the last controller's log:\n%s", tail(string(b), 30))
		}
	}
}

// leaderFlags run every controller with leader election, on short timings
// so that a stalled leader loses its Lease within seconds.
var leaderFlags = []string{"--leader-elect=true", "--leader-election-lease-duration=2s",
	"--leader-election-renew-deadline=1500ms", "--leader-election-retry-period=500ms"}

// overlap stalls the leader (SIGSTOP) until its Lease has expired and a
// second controller has taken it, lets the second work for a moment, then
// resumes the first: until it finds out it lost the Lease (and exits), two
// controllers act at once, the first on what it saw before it stalled. It
// returns the second.
func overlap(t *testing.T, ctx context.Context, admin client.Client, leader *controllerprocess.Process, start func() *controllerprocess.Process) *controllerprocess.Process {
	t.Helper()
	lease := func() *coordinationv1.Lease {
		l := &coordinationv1.Lease{}
		_ = admin.Get(ctx, client.ObjectKey{Namespace: "ramp-system", Name: "ramp-controller-lock"}, l)
		return l
	}
	holder := func() string { return ptr.Deref(lease().Spec.HolderIdentity, "") }
	// The only live process holds the Lease once it was acquired after the
	// process started (a killed one's Lease first has to expire).
	var first string
	clustertest.Eventually(t, 30*time.Second, "the leader holds the Lease", func() (bool, string) {
		l := lease()
		first = ptr.Deref(l.Spec.HolderIdentity, "")
		acquired := l.Spec.AcquireTime
		return first != "" && acquired != nil && acquired.After(leader.Started), fmt.Sprintf("held by %q since %v", first, acquired)
	})
	leader.Stall()
	next := start()
	clustertest.Eventually(t, 30*time.Second, "the second controller takes the Lease", func() (bool, string) {
		h := holder()
		return h != "" && h != first, h
	})
	<-time.After(time.Second) // the second acts on its own for a moment
	leader.Resume()
	select {
	case <-leader.Done():
	case <-time.After(30 * time.Second):
		t.Errorf("a leader that lost its Lease while stalled still runs 30s after it resumed")
		leader.Kill()
	}
	return next
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
