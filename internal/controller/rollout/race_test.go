package rollout_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/controller/rollout"
	"github.com/rampdev/ramp/internal/replicaset"
)

// interceptStatus runs land once, before the first status write of rollout
// name whose body holds want: a user's action landing between the
// controller's read and its write.
type interceptStatus struct {
	next       http.RoundTripper
	name, want atomic.Value
	land       func()
	once       sync.Once
}

func (i *interceptStatus) RoundTrip(r *http.Request) (*http.Response, error) {
	name, _ := i.name.Load().(string)
	want, _ := i.want.Load().(string)
	if r.Method == http.MethodPatch && want != "" && strings.HasSuffix(r.URL.Path, "/rollouts/"+name+"/status") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), want) {
			i.once.Do(i.land)
		}
	}
	return i.next.RoundTrip(r)
}

// `ramp abort`, given for revision 2 while the controller promotes it,
// lands between the controller's read and its status write. The user saw
// revision 2 paused, not promoted: the abort is honoured (the controller's
// write, decided without it, is refused by its precondition), and it never
// carries over into revision 3, which is released as any other.
func TestAnAbortLandingMidPromotionIsHonouredForItsRevisionOnly(t *testing.T) {
	e := newEnv(t)
	const instance = "race-abort"
	hook := &interceptStatus{}
	e.pausedBlueGreen(instance, func(rt http.RoundTripper) http.RoundTripper { hook.next = rt; return hook })
	v1 := e.waitPhase("web", v1alpha1.RolloutPhaseHealthy, time.Minute).Status.StableRS
	e.setImage("web", "example/web:2")
	v2 := e.waitPhase("web", v1alpha1.RolloutPhasePaused, time.Minute).Status.CurrentPodHash

	var aborted atomic.Bool
	hook.land = func() {
		// What `ramp abort` writes, for revision 2, as the user saw it.
		e.patchStatus("web", func(s *v1alpha1.RolloutStatus) { s.Abort = true })
		aborted.Store(true)
	}
	hook.name.Store("web")
	hook.want.Store(fmt.Sprintf(`"stableRS":%q`, v2))
	e.promote("web")
	e.eventually(time.Minute, "the abort landed", func() (bool, string) { return aborted.Load(), "" })
	after := e.waitPhase("web", v1alpha1.RolloutPhaseDegraded, time.Minute)
	if !after.Status.Abort || after.Status.StableRS != v1 || e.selector("web-active") != v1 {
		t.Errorf("after the race: abort %v, stable %s, active selects %s; want the abort of %s honoured, %s serving: %s",
			after.Status.Abort, after.Status.StableRS, e.selector("web-active"), v2, v1, after.Status.Message)
	}

	e.setImage("web", "example/web:3")
	e.eventually(time.Minute, "revision 3 released", func() (bool, string) {
		ro := e.rollout("web")
		if ro.Status.CurrentPodHash == v2 || ro.Status.Phase != v1alpha1.RolloutPhasePaused {
			return false, fmt.Sprintf("%s: %s", ro.Status.Phase, ro.Status.Message)
		}
		return true, ""
	})
	e.promote("web")
	got := e.waitPhase("web", v1alpha1.RolloutPhaseHealthy, time.Minute)
	if got.Status.Abort || got.Status.StableRS != got.Status.CurrentPodHash || e.selector("web-active") != got.Status.CurrentPodHash {
		t.Errorf("revision 3: abort %v, stable %s, current %s, active selects %s: %s", got.Status.Abort, got.Status.StableRS, got.Status.CurrentPodHash, e.selector("web-active"), got.Status.Message)
	}
}

// `ramp abort`, given for revision 2, lands between the controller's read
// of revision 3's template and the status write that starts revision 3:
// the abort was for revision 2 and must not abort revision 3.
func TestAnAbortLandingWithTheNextTemplateDoesNotAbortIt(t *testing.T) {
	e := newEnv(t)
	const instance = "race-abort-next"
	hook := &interceptStatus{}
	e.pausedBlueGreen(instance, func(rt http.RoundTripper) http.RoundTripper { hook.next = rt; return hook })
	e.waitPhase("web", v1alpha1.RolloutPhaseHealthy, time.Minute)
	e.setImage("web", "example/web:2")
	e.waitPhase("web", v1alpha1.RolloutPhasePaused, time.Minute)

	var aborted atomic.Bool
	hook.land = func() {
		e.patchStatus("web", func(s *v1alpha1.RolloutStatus) { s.Abort = true })
		aborted.Store(true)
	}
	hook.name.Store("web")
	hook.want.Store(`"currentPodHash"`)
	e.setImage("web", "example/web:3")
	e.eventually(time.Minute, "the abort landed", func() (bool, string) { return aborted.Load(), "" })
	e.eventually(time.Minute, "revision 3 paused before its promotion, not aborted", func() (bool, string) {
		ro := e.rollout("web")
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && !ro.Status.Abort && ro.Status.CurrentPodHash == replicaSetHash(ro),
			fmt.Sprintf("%s (abort %v): %s", ro.Status.Phase, ro.Status.Abort, ro.Status.Message)
	})
	for _, ev := range e.eventNotes("web") {
		if strings.Contains(ev, "aborted") {
			t.Errorf("an abort given for revision 2 reached revision 3: %s", ev)
		}
	}
}

// A router's weight changed behind the controller's back (a GitOps tool
// re-applying the route, or a crash between the router write and the
// status) is set again by the next reconcile of the step, not trusted from
// the status.
func TestRouterWeightIsReassertedWithinAStep(t *testing.T) {
	e := newEnv(t)
	e.canaryServices("api")
	e.create(canaryRollout("api", 2, routed("api", weight(40), pause(), weight(80), pause())))
	e.waitPhase("api", v1alpha1.RolloutPhaseHealthy, time.Minute)
	e.setImage("api", "example/api:2")
	e.waitStep("api", 1, v1alpha1.RolloutPhasePaused)
	router := e.router("api")
	if w := router.Weight(); w != 40 {
		t.Fatalf("weight %d at the pause after setWeight 40", w)
	}
	if err := router.SetWeight(e.ctx, 0); err != nil { // re-applied from Git
		t.Fatal(err)
	}
	e.touch("api")
	e.eventually(30*time.Second, "weight 40 again", func() (bool, string) { return router.Weight() == 40, fmt.Sprint(router.Weight()) })
}

// killAtStatus kills the controller just before the first status write of
// a rollout whose body holds want: that write and every request after it
// fail, as for a process that is gone. The writes made before it in the
// same reconcile stay. The test then starts a new controller, whose cache
// is filled afresh, as after a restart.
type killAtStatus struct {
	next   http.RoundTripper
	want   atomic.Value
	killed atomic.Bool
}

func (f *killAtStatus) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.killed.Load() {
		return nil, fmt.Errorf("killed")
	}
	want, _ := f.want.Load().(string)
	if want != "" && r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/status") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), want) && f.killed.CompareAndSwap(false, true) {
			return nil, fmt.Errorf("killed before the status write")
		}
	}
	return f.next.RoundTrip(r)
}

// promotionKilled brings rollout name (made by create, under a controller
// of its own for instance whose transport it wraps) to its update to
// revision 2, waits for it at paused, promotes it, and kills the
// controller just before the status write that records the promotion.
// With next, revision 3's image is set before a new controller starts. It
// returns the hashes of revisions 1 and 2.
func (e *env) promotionKilled(instance, name string, create func(wrap func(http.RoundTripper) http.RoundTripper), paused func() *v1alpha1.Rollout, next bool) (v1, v2 string) {
	e.t.Helper()
	hook := &killAtStatus{}
	create(func(rt http.RoundTripper) http.RoundTripper { hook.next = rt; return hook })
	v1 = e.waitPhase(name, v1alpha1.RolloutPhaseHealthy, time.Minute).Status.StableRS
	e.setImage(name, "example/"+name+":2")
	v2 = paused().Status.CurrentPodHash
	hook.want.Store(fmt.Sprintf(`"stableRS":%q`, v2))
	e.promote(name)
	e.eventually(time.Minute, "the controller killed before its status write", func() (bool, string) { return hook.killed.Load(), "" })
	if next {
		e.setImage(name, "example/"+name+":3")
	}
	e.ownController(instance, func(rt http.RoundTripper) http.RoundTripper { return rt })
	return v1, v2
}

// neverWentBack fails the test if an event of rollout name tells of a
// Service switched from v2 back to v1.
func (e *env) neverWentBack(name, v1, v2 string) {
	e.t.Helper()
	for _, ev := range e.eventNotes(name) {
		if strings.Contains(ev, fmt.Sprintf("from %q to %q", v2, v1)) {
			e.t.Errorf("a Service went back to the old version: %s", ev)
		}
	}
}

// createRoutedCanary makes, under a controller of its own for instance, the
// routed canary "api" (setWeight 40, pause; old pods kept 30 s after a
// promotion).
func (e *env) createRoutedCanary(instance string) func(func(http.RoundTripper) http.RoundTripper) {
	return func(wrap func(http.RoundTripper) http.RoundTripper) {
		e.ownController(instance, wrap)
		e.canaryServices("api")
		ro := canaryRollout("api", 1, routed("api", weight(40), pause()))
		ro.Spec.Strategy.Canary.ScaleDownDelaySeconds = ptr.To[int32](30)
		ro.Labels = map[string]string{v1alpha1.InstanceIDLabelKey: instance}
		e.create(ro)
	}
}

// A blue/green promotion switches the active Service, then writes the
// status that records it. Killed in between, the controller finds the
// switch made and completes the promotion; it never points the active
// Service back at the old version (the chaos suite found it; the test
// plays it: the next controller starts with a fresh cache).
func TestKilledBetweenTheSwitchAndItsStatusBlueGreenNeverFlipsBack(t *testing.T) {
	e := newEnv(t)
	const instance = "race-switch"
	create := func(wrap func(http.RoundTripper) http.RoundTripper) { e.pausedBlueGreen(instance, wrap) }
	paused := func() *v1alpha1.Rollout { return e.waitPhase("web", v1alpha1.RolloutPhasePaused, time.Minute) }
	v1, v2 := e.promotionKilled(instance, "web", create, paused, false)
	got := e.waitPhase("web", v1alpha1.RolloutPhaseHealthy, time.Minute)
	if got.Status.StableRS != v2 || e.selector("web-active") != v2 {
		t.Errorf("stable %s, active selects %s; want %s", got.Status.StableRS, e.selector("web-active"), v2)
	}
	e.neverWentBack("web", v1, v2)
}

// The same for blue/green, and a new template arrives before the
// controller comes back: the promoted version is the stable one and the
// active Service never goes back (found by the chaos suite, seed 20261201
// with kills right after writes).
func TestKilledBetweenTheSwitchAndItsStatusThenUpdatedBlueGreenNeverFlipsBack(t *testing.T) {
	e := newEnv(t)
	const instance = "race-switch-update"
	create := func(wrap func(http.RoundTripper) http.RoundTripper) { e.pausedBlueGreen(instance, wrap) }
	paused := func() *v1alpha1.Rollout { return e.waitPhase("web", v1alpha1.RolloutPhasePaused, time.Minute) }
	v1, v2 := e.promotionKilled(instance, "web", create, paused, true)
	got := e.waitPhase("web", v1alpha1.RolloutPhasePaused, time.Minute)
	if got.Status.StableRS != v2 || e.selector("web-active") != v2 {
		t.Errorf("revision 3 paused before its switch: stable %s, active selects %s; want %s", got.Status.StableRS, e.selector("web-active"), v2)
	}
	e.neverWentBack("web", v1, v2)
}

// A routed canary's promotion points the stable Service at the new
// version and the routers back to it, then writes the status that
// records it. Killed in between, the controller must finish the
// promotion, never point the stable Service back at the old version
// (whose pods are still there, inside the scale-down delay).
func TestKilledBetweenTheSwitchAndItsStatusRoutedCanaryNeverFlipsBack(t *testing.T) {
	e := newEnv(t)
	paused := func() *v1alpha1.Rollout { return e.waitStep("api", 1, v1alpha1.RolloutPhasePaused) }
	v1, v2 := e.promotionKilled("race-canary-switch", "api", e.createRoutedCanary("race-canary-switch"), paused, false)
	got := e.waitPhase("api", v1alpha1.RolloutPhaseHealthy, time.Minute)
	if got.Status.StableRS != v2 || e.selector("api-stable") != v2 || e.router("api").Weight() != 0 {
		t.Errorf("stable %s, stable Service selects %s, canary weight %d; want %s and 0", got.Status.StableRS, e.selector("api-stable"), e.router("api").Weight(), v2)
	}
	e.neverWentBack("api", v1, v2)
}

// As above, and a new template arrives before the controller comes back:
// the version whose promotion the kill interrupted is the stable one the
// next update starts from, and the stable Service never goes back to the
// version before it.
func TestKilledBetweenTheSwitchAndItsStatusThenUpdatedRoutedCanaryNeverFlipsBack(t *testing.T) {
	e := newEnv(t)
	paused := func() *v1alpha1.Rollout { return e.waitStep("api", 1, v1alpha1.RolloutPhasePaused) }
	v1, v2 := e.promotionKilled("race-canary-switch-update", "api", e.createRoutedCanary("race-canary-switch-update"), paused, true)
	got := e.waitStep("api", 1, v1alpha1.RolloutPhasePaused)
	if got.Status.StableRS != v2 || e.selector("api-stable") != v2 {
		t.Errorf("revision 3 paused at its first pause: stable %s, stable Service selects %s; want %s", got.Status.StableRS, e.selector("api-stable"), v2)
	}
	e.neverWentBack("api", v1, v2)
}

// pausedBlueGreen runs a controller of its own for instance, its client's
// transport wrapped (the race to play), and creates through it the
// blue/green rollout "web" (active Service web-active, promoted by hand).
func (e *env) pausedBlueGreen(instance string, wrap func(http.RoundTripper) http.RoundTripper) {
	e.t.Helper()
	e.ownController(instance, wrap)
	e.service("web-active", "web")
	ro := blueGreen("web", 1, v1alpha1.BlueGreenStrategy{ActiveService: "web-active", AutoPromotionEnabled: ptr.To(false), ScaleDownDelaySeconds: ptr.To[int32](0)})
	ro.Labels = map[string]string{v1alpha1.InstanceIDLabelKey: instance}
	e.create(ro)
}

// ownController runs a controller of its own for the rollouts labelled
// with instance, its client's transport wrapped (the race to play), with
// the package's in-memory routers.
func (e *env) ownController(instance string, wrap func(http.RoundTripper) http.RoundTripper) {
	e.t.Helper()
	cfg := clustertest.AsController(shared.Config())
	cfg.Wrap(wrap)
	opts := app.Options{InstanceID: instance, SkipControllerNameValidation: true, WithoutAnalysisRuns: true}
	mgr, err := app.NewManager(cfg, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &rollout.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Events: mgr.GetEventRecorder("ramp-controller"),
		Clock: clock.RealClock{}, InstanceID: instance, SkipNameValidation: true, Routers: routers}
	if err := r.SetupWithManager(mgr); err != nil {
		e.t.Fatal(err)
	}
	clustertest.RunManager(e.t, mgr)
}

// replicaSetHash is the pod-template hash of the rollout's template.
func replicaSetHash(ro *v1alpha1.Rollout) string {
	return replicaset.TemplateHash(&ro.Spec.Template, ro.Status.CollisionCount)
}
