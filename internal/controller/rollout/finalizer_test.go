package rollout_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/controller/rollout"
)

// routedAt40 creates the routed canary "api" and stops its update at the
// pause after setWeight 40.
func (e *env) routedAt40() {
	e.t.Helper()
	e.canaryServices("api")
	e.create(canaryRollout("api", 2, routed("api", weight(40), pause())))
	e.waitPhase("api", v1alpha1.RolloutPhaseHealthy, time.Minute)
	ro := e.rollout("api")
	if !slices.Contains(ro.Finalizers, rollout.RoutingFinalizer) || ro.Annotations[rollout.RoutingAnnotation] == "" {
		e.t.Fatalf("a routed rollout: finalizers %v, annotations %v", ro.Finalizers, ro.Annotations)
	}
	e.setImage("api", "example/api:2")
	e.waitStep("api", 1, v1alpha1.RolloutPhasePaused)
	if w := e.router("api").Weight(); w != 40 {
		e.t.Fatalf("weight %d at the pause after setWeight 40", w)
	}
}

// A rollout deleted while its load balancer's API is down keeps its
// finalizer (and the canary its weight) until the router can be reset to
// stable; then it goes.
func TestDeletedRolloutWaitsForItsRouterToBeReset(t *testing.T) {
	e := newEnv(t)
	e.routedAt40()
	router := e.router("api")
	router.Fail(errors.New("the load balancer's API is down"))
	if err := cl.Delete(e.ctx, e.rollout("api")); err != nil {
		t.Fatal(err)
	}
	e.waitEvent("api", "TrafficRoutingReset")
	ro := e.rollout("api")
	if ro.DeletionTimestamp == nil || !slices.Contains(ro.Finalizers, rollout.RoutingFinalizer) {
		t.Fatalf("after a failed reset: deletion %v, finalizers %v; want the finalizer kept", ro.DeletionTimestamp, ro.Finalizers)
	}
	router.Fail(nil)
	e.eventually(time.Minute, "the rollout gone, the router at weight 0", func() (bool, string) {
		err := cl.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "api"}, &v1alpha1.Rollout{})
		return apierrors.IsNotFound(err) && router.Weight() == 0, fmt.Sprintf("get: %v, weight %d", err, router.Weight())
	})
}

// trafficRouting removed from a rollout in the middle of its update: the
// routers it named are reset to stable (from the record kept beside the
// finalizer) before the finalizer goes.
func TestRemovingTrafficRoutingResetsTheRouters(t *testing.T) {
	e := newEnv(t)
	e.routedAt40()
	ro := e.rollout("api")
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Strategy.Canary.TrafficRouting = nil
	if err := cl.Patch(e.ctx, ro, patch); err != nil {
		t.Fatal(err)
	}
	router := e.router("api")
	e.eventually(time.Minute, "the router at weight 0, finalizer and record gone", func() (bool, string) {
		ro := e.rollout("api")
		return router.Weight() == 0 && len(ro.Finalizers) == 0 && ro.Annotations[rollout.RoutingAnnotation] == "",
			fmt.Sprintf("weight %d, finalizers %v, annotations %v", router.Weight(), ro.Finalizers, ro.Annotations)
	})
}

// interceptRolloutPatch runs land once, before the first patch of the
// rollout itself (not its status) whose body holds want.
type interceptRolloutPatch struct {
	next http.RoundTripper
	want string
	land func()
	once sync.Once
}

func (i *interceptRolloutPatch) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/rollouts/") && !strings.HasSuffix(r.URL.Path, "/status") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), i.want) {
			i.once.Do(i.land)
		}
	}
	return i.next.RoundTrip(r)
}

// Another controller's finalizer, added between Ramp's read of a rollout
// and its finalizer patch, is kept: the patch replaces the whole list, so
// it is made only onto the rollout read.
func TestAFinalizerAddedMeanwhileIsKept(t *testing.T) {
	e := newEnv(t)
	const instance = "race-finalizer"
	hook := &interceptRolloutPatch{want: rollout.RoutingFinalizer}
	hook.land = func() {
		ro := e.rollout("api")
		patch := client.MergeFrom(ro.DeepCopy())
		ro.Finalizers = append(ro.Finalizers, "example.com/backup")
		if err := cl.Patch(e.ctx, ro, patch); err != nil {
			t.Error(err)
		}
	}
	e.ownController(instance, func(rt http.RoundTripper) http.RoundTripper { hook.next = rt; return hook })
	e.canaryServices("api")
	ro := canaryRollout("api", 1, routed("api", weight(40), pause()))
	ro.Labels = map[string]string{v1alpha1.InstanceIDLabelKey: instance}
	e.create(ro)
	e.waitPhase("api", v1alpha1.RolloutPhaseHealthy, time.Minute)
	got := e.rollout("api").Finalizers
	if !slices.Contains(got, "example.com/backup") || !slices.Contains(got, rollout.RoutingFinalizer) {
		t.Errorf("finalizers %v; want both", got)
	}
	ro = e.rollout("api")
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Finalizers = slices.DeleteFunc(ro.Finalizers, func(f string) bool { return f == "example.com/backup" })
	if err := cl.Patch(e.ctx, ro, patch); err != nil {
		t.Fatal(err)
	}
}
