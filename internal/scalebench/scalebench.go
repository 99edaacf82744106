package scalebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/controllerprocess"
)

// Options shape a run.
type Options struct {
	// Rollouts is the fleet's size (default 1,000).
	Rollouts int
	// Controller is the ramp-controller binary to run.
	Controller string
	// ControllerArgs are added to the controller's command line (empty:
	// its defaults).
	ControllerArgs []string
	// Rest is how long the fleet is watched at rest (default 60s).
	Rest time.Duration
	// Dir keeps the cluster's state and the controller's log (default: a
	// temporary directory, removed at the end).
	Dir string
	// Timeout bounds each wait for the fleet (default 15 minutes).
	Timeout time.Duration
	// SkipRelease leaves out the release of the whole fleet at once: a
	// run of 10,000 then measures creation, rest and one release among the
	// rest.
	SkipRelease bool
	// Kind is what the fleet is made of: KindRollouts (default), or
	// KindDeployments, plain Deployments rolled by the
	// kube-controller-manager with no ramp-controller: what the cluster
	// itself costs for the same release.
	Kind string
}

func (o Options) withDefaults() Options {
	if o.Rollouts <= 0 {
		o.Rollouts = 1000
	}
	if o.Rest <= 0 {
		o.Rest = 60 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Minute
	}
	return o
}

// Namespace holds the fleet.
const Namespace = "bench"

// Run starts a cluster and the controller, and measures a fleet of
// opts.Rollouts through creation, rest, a release of all at once and one
// release among the rest. It prints each figure to out as it is measured
// and returns them all.
func Run(ctx context.Context, opts Options, out io.Writer) (*Report, error) {
	opts = opts.withDefaults()
	k, err := kindOf(opts.Kind)
	if err != nil {
		return nil, err
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "ramp-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	if k.name == KindRollouts {
		say("ramp-bench: %d rollouts (canary, 1 replica, steps [setWeight: 50]); ramp-controller %v", opts.Rollouts, opts.ControllerArgs)
	} else {
		say("ramp-bench: %d Deployments (1 replica, rolling update), no ramp-controller: the cluster's own cost", opts.Rollouts)
	}

	// A fresh cluster each time: a fleet left from an earlier run would
	// be measured too.
	if err := os.RemoveAll(filepath.Join(dir, "cluster")); err != nil {
		return nil, err
	}
	c, err := cluster.Start(ctx, cluster.Options{Dir: filepath.Join(dir, "cluster"), Nodes: cluster.NodeOptions{Count: max(3, opts.Rollouts/300)}})
	if err != nil {
		return nil, fmt.Errorf("starting the cluster: %w", err)
	}
	defer c.Stop()
	cfg := c.Config()
	cfg.QPS, cfg.Burst = -1, -1
	cl, err := client.New(cfg, client.Options{Scheme: app.Scheme()})
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	for _, ns := range []string{Namespace, "ramp-system"} {
		if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, err
		}
	}

	var ctrl *controllerprocess.Process
	if k.name == KindRollouts {
		if opts.Controller == "" {
			return nil, errors.New("no ramp-controller binary: pass --controller (make bench-scale builds bin/ramp-controller)")
		}
		if ctrl, err = controllerprocess.Start(ctx, opts.Controller, c.KubeconfigPath(), filepath.Join(dir, "controller.log"), opts.ControllerArgs...); err != nil {
			return nil, err
		}
		defer ctrl.Stop()
	}
	fleet, err := watchFleet(ctx, cfg, k)
	if err != nil {
		return nil, err
	}
	defer fleet.stop()
	fleet.progress = out
	rep := &Report{Rollouts: opts.Rollouts}
	rep.BaselineRSS = ctrl.RSS()

	// Creation.
	start := time.Now()
	names := make([]string, opts.Rollouts)
	for i := range names {
		names[i] = fmt.Sprintf("app-%05d", i)
	}
	if err := parallel(ctx, names, func(ctx context.Context, name string) error {
		return cl.Create(ctx, k.member(name))
	}); err != nil {
		return nil, fmt.Errorf("creating rollouts: %w", err)
	}
	created := time.Since(start)
	if err := fleet.waitAll(ctx, opts.Timeout, names, func(o client.Object) bool { return k.done(o, "") }); err != nil {
		return nil, fmt.Errorf("waiting for the fleet to be Healthy: %w", err)
	}
	rep.CreateToHealthy = time.Since(start)
	say("create → all Healthy: %s (creating the %d %s took %s)", round(rep.CreateToHealthy), opts.Rollouts, k.name, round(created))

	// Rest.
	writes := &apiWrites{kube: kube}
	drain, err := writes.quiet(ctx, 10*time.Second, opts.Timeout)
	if err != nil {
		return nil, err
	}
	rep.Drain = drain
	say("writes after the fleet is Healthy (events of the deploy) stopped within: %s", round(drain))
	before, err := writes.read(ctx)
	if err != nil {
		return nil, err
	}
	cpu0, t0 := ctrl.CPU(), time.Now()
	select {
	case <-time.After(opts.Rest):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rep.RestCPU = (ctrl.CPU() - cpu0).Seconds() / time.Since(t0).Seconds()
	rep.RestRSS = ctrl.RSS()
	after, err := writes.read(ctx)
	if err != nil {
		return nil, err
	}
	rep.RestWrites = after.minus(before)
	if k.name == KindRollouts {
		say("at rest (%s): ramp-controller RSS %s (%s before any rollout; %s per rollout), CPU %.3f core", opts.Rest, mib(rep.RestRSS), mib(rep.BaselineRSS), bytesPer(rep.RestRSS-rep.BaselineRSS, opts.Rollouts), rep.RestCPU)
	}
	say("API writes at rest by resource (leases: leader election and the API server's own heartbeat): %s", rep.RestWrites)

	if !opts.SkipRelease {
		r := &release{cl: cl, kind: k, fleet: fleet, writes: writes, say: say, controllerPID: ctrl.PID()}
		if err := r.run(ctx, names, opts, rep); err != nil {
			return nil, err
		}
	}

	// One release while the others rest.
	if _, err := writes.quiet(ctx, 5*time.Second, opts.Timeout); err != nil {
		return nil, err
	}
	one, err := releaseOne(ctx, cl, kube, fleet, names[len(names)/2], opts.Timeout)
	if err != nil {
		return nil, err
	}
	rep.OneAmongRest = one
	rep.PeakRSS = ctrl.PeakRSS()
	rep.Kind = k.name
	say("one %s updated while %d rest: done %s after its new pod was ready", strings.TrimSuffix(k.name, "s"), opts.Rollouts-1, round(one))
	if k.name == KindRollouts {
		say("ramp-controller peak RSS: %s", mib(rep.PeakRSS))
	}
	return rep, nil
}

// imagePatch sets the image of the fleet's one container.
func imagePatch(image string) []byte {
	return []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"` + image + `"}]}}}}`)
}

// parallel calls fn for every name, 64 at a time.
func parallel(ctx context.Context, names []string, fn func(context.Context, string) error) error {
	work := make(chan string)
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				if err := fn(ctx, name); err != nil {
					select {
					case errs <- fmt.Errorf("%s: %w", name, err):
					default:
					}
				}
			}
		}()
	}
	for _, name := range names {
		work <- name
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func bytesPer(b int64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f KiB", float64(b)/float64(n)/1024)
}

// release is the release of the whole fleet at once, with what it is
// measured by.
type release struct {
	cl     client.Client
	kind   kind
	fleet  *fleet
	writes *apiWrites
	say    func(string, ...any)
	// controllerPID is whose processor time is the controller's (0: none).
	controllerPID int
}

// run updates every member's image at once and measures the time each
// takes to finish, and the API writes of it all, into rep.
func (r *release) run(ctx context.Context, names []string, opts Options, rep *Report) error {
	cl, k, fleet, writes, say := r.cl, r.kind, r.fleet, r.writes, r.say
	beforeRelease, err := writes.read(ctx)
	if err != nil {
		return err
	}
	cpu0 := readCPU(r.controllerPID)
	updated := make(map[string]time.Time, len(names))
	var mu sync.Mutex
	if err := parallel(ctx, names, func(ctx context.Context, name string) error {
		obj := k.proto()
		obj.SetNamespace(Namespace)
		obj.SetName(name)
		if err := cl.Patch(ctx, obj, client.RawPatch(types.MergePatchType, imagePatch("example/app:2"))); err != nil {
			return err
		}
		mu.Lock()
		updated[name] = time.Now()
		mu.Unlock()
		return nil
	}); err != nil {
		return fmt.Errorf("updating images: %w", err)
	}
	if err := fleet.waitAll(ctx, opts.Timeout, names, func(o client.Object) bool { return k.done(o, "example/app:2") }); err != nil {
		return fmt.Errorf("waiting for the release: %w", err)
	}
	rep.ReleaseCPU = readCPU(r.controllerPID).since(cpu0)
	var took []time.Duration
	for _, name := range names {
		took = append(took, fleet.reached(name).Sub(updated[name]))
	}
	slices.Sort(took)
	rep.UpdateP50, rep.UpdateP99, rep.UpdateMax = percentile(took, 50), percentile(took, 99), took[len(took)-1]
	afterRelease, err := writes.read(ctx)
	if err != nil {
		return err
	}
	rep.ReleaseWrites = afterRelease.minus(beforeRelease)
	delete(rep.ReleaseWrites, "leases")
	say("API writes of the release per member (every client: controller, kube-controller-manager, nodes): %s", rep.ReleaseWrites.per(opts.Rollouts))
	say("update all at once → done at the new revision: p50 %s, p99 %s, max %s", round(rep.UpdateP50), round(rep.UpdateP99), round(rep.UpdateMax))
	c := rep.ReleaseCPU
	say("processor during the release: ramp-controller %.2f core, the in-process cluster %.2f cores, the machine %.0f%% busy (%d cores)", c.Controller, c.Cluster, 100*c.Busy, c.Cores)

	return nil
}
