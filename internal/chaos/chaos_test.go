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
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

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

// done says whether a rollout reached the end its kind allows at its
// latest image (Healthy; or, for a bad one updated at least once, aborted
// and Degraded with the first version serving), and why not.
func done(ro *v1alpha1.Rollout, want string, bad bool) (bool, string) {
	st := ro.Status
	atLatest := st.ObservedGeneration == strconv.FormatInt(ro.Generation, 10) && ro.Spec.Template.Spec.Containers[0].Image == want
	ok := atLatest && st.Phase == v1alpha1.RolloutPhaseHealthy && st.StableRS != "" && st.StableRS == st.CurrentPodHash
	if bad && want != image(1) {
		ok = atLatest && st.Phase == v1alpha1.RolloutPhaseDegraded && st.Abort && st.StableRS != st.CurrentPodHash
	}
	return ok, fmt.Sprintf("%s %s at %s: %s", ro.Name, st.Phase, ro.Spec.Template.Spec.Containers[0].Image, st.Message)
}

// chaosScheme is Ramp's scheme with Gateway API's routes.
func chaosScheme() *runtime.Scheme {
	s := app.Scheme()
	if err := gwv1.Install(s); err != nil {
		panic(err)
	}
	return s
}

var gatewayCRDs = []string{"../trafficrouting/gatewayapi/testdata/gateway.networking.k8s.io_httproutes.yaml"}

// ramp-controller, run as its own process and its ServiceAccount, is
// killed with SIGKILL at random moments (some right after one of its writes
// landed) and stalled past its Lease now and then, while a fleet of every
// kind of rollout is updated at random and `ramp` actions race the
// controller; invariants are checked from watches all along, and every
// rollout must reach the end its kind allows once the kills stop.
func TestControllerKilledAtRandom(t *testing.T) {
	ctrl.SetLogger(logr.Discard())
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("chaos: seed %d (replay: go test ./internal/chaos -run TestControllerKilledAtRandom -args -chaos.seed=%d)", seed, seed)
	ctx := t.Context()
	dir := t.TempDir()
	c, _ := clustertest.Start(t, gatewayCRDs...)
	admin, err := client.New(c.Config(), client.Options{Scheme: chaosScheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := clustertest.InstallRBAC(c.Config()); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	promAddress := startPrometheus(t, dir)
	for _, tpl := range []*v1alpha1.AnalysisTemplate{verdictTemplate(promAddress), smokeTemplate()} {
		if err := admin.Create(ctx, tpl); err != nil {
			t.Fatal(err)
		}
	}

	// The controller reaches the API server through the kill switch; the
	// CLI as an administrator.
	sw, err := newKillSwitch(clustertest.AsController(c.Config()))
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := sw.writeKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	adminKubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if raw, err := c.Kubeconfig(); err != nil || os.WriteFile(adminKubeconfig, raw, 0o600) != nil {
		t.Fatal("writing the administrator's kubeconfig:", err)
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

	// The fleet, and the watches the invariants are checked from. The ALB
	// canaries' load balancers live in a local ELBv2 server, which the
	// controller asks to verify weights, as it would ask AWS.
	f := newFleet(*perKindFlag)
	iv := newInvariants(f)
	aws := newLocalAWS(t)
	stopWatch := watchInvariants(t, c.Config(), iv, aws.apply)
	defer stopWatch()
	for _, m := range f.members {
		for _, o := range m.kind.objects(m.name) {
			if err := admin.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
			if ing, ok := o.(*networkingv1.Ingress); ok {
				aws.provision(t, admin, ing)
			}
		}
	}
	counter := countReconciles()
	startCounted := func() *controllerprocess.Process {
		p := start()
		counter.follow(p)
		return p
	}
	proc := startCounted()
	f.converge(t, admin, "the fleet's first deploy")

	// Chaos: kills and updates until both the time and the kills are done.
	killRand := rand.New(rand.NewSource(seed))
	began := time.Now()
	kills, stalls := 0, 0
	stopActors := f.act(t, admin, adminKubeconfig, seed)
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
			proc = overlap(t, ctx, admin, proc, startCounted)
			stalls++
			continue
		}
		kills++
		proc = startCounted()
	}
	actions := stopActors()
	defer proc.Stop()

	f.settle(t, adminKubeconfig)
	f.converge(t, admin, "every rollout at its latest image after the last kill")
	reconciled := counter.Total()
	broken := iv.Broken()
	t.Logf("chaos: seed %d, %d rollouts, %d kills (%d right after a write), %d stalled leaders overlapping the next, at least %d reconciles, %d controller writes, %d updates, %s, %d invariant checks (%d router weights, %d analysis steps passed), %d ELBv2 calls, %d broken",
		seed, len(f.members), kills, sw.Fired(), stalls, reconciled, sw.writes.Load(), f.updates.Load(), actions, iv.checks.Load(), iv.weightChecks.Load(), iv.Passed(), aws.Calls(), len(broken))
	for _, b := range broken {
		t.Errorf("seed %d: %s", seed, b)
	}
	// The checks saw the parts at work: routers moving weights, analysis
	// steps passed (bad releases aborted is what converge checked).
	if iv.weightChecks.Load() == 0 || iv.Passed() == 0 || aws.Calls() == 0 {
		t.Errorf("the run checked %d router weights, %d analysis steps passed, %d ELBv2 calls: the routed or analysed rollouts did not release", iv.weightChecks.Load(), iv.Passed(), aws.Calls())
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
	"--leader-election-renew-deadline=1500ms", "--leader-election-retry-period=500ms",
	"--aws-verify-target-group", "--aws-region=" + awsRegion}

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
