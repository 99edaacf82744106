// Package conformance is one test suite that every traffic router passes,
// in the style of cert-manager's issuer conformance suite: each router's
// tests give it a Fixture (the router, on the in-process cluster with the
// router's CRDs, and a way to read what the objects now say), and declare
// the capabilities the router lacks.
package conformance

import (
	"maps"
	"testing"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// Fixture is one router under test, with the objects it routes through.
type Fixture interface {
	// Router is the router under test.
	Router() trafficrouting.Router
	// Weight is the canary weight the router's objects show now.
	Weight(t *testing.T) int32
	// Routes lists the header and mirror routes the objects hold now, by
	// the names of the steps that set them.
	Routes(t *testing.T) (headers, mirrors []string)
	// Foreign is the objects' content that is not the router's: everything
	// but the weights and the routes it adds. It must never change.
	Foreign(t *testing.T) string
	// Writes counts the router's API writes so far.
	Writes() int
	// Remove deletes the objects the router needs, so it must report them
	// missing.
	Remove(t *testing.T)
}

// DestinationFixture is the Fixture of a router that sends traffic to
// additional destinations (trafficrouting.DestinationRouter).
type DestinationFixture interface {
	// Destinations are the weights the objects give to destinations other
	// than the canary and the stable version, by Service name.
	Destinations(t *testing.T) map[string]int32
}

// Suite runs the conformance tests for one router.
type Suite struct {
	// Name of the router, for test names.
	Name string
	// New sets up a fresh fixture (its own objects) for one test.
	New func(t *testing.T) Fixture
	// NoHeaderRoutes and NoMirrorRoutes declare capabilities the router
	// lacks; their tests are skipped, and the router must not implement
	// the interface.
	NoHeaderRoutes, NoMirrorRoutes bool
	// NoDestinations declares a router that cannot send traffic to
	// additional destinations (weighted experiment templates); the others
	// implement trafficrouting.DestinationRouter and their fixtures
	// DestinationFixture.
	NoDestinations bool
	// CreatesItsObjects declares a router that creates the objects it
	// routes through (SMI's TrafficSplit): a missing one is created again,
	// not reported.
	CreatesItsObjects bool
}

var header = &v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x-beta", HeaderValue: &v1alpha1.StringMatch{Exact: "on"}}}}

var mirror = &v1alpha1.SetMirrorRoute{Name: "shadow", Percentage: ptr(50), Match: []v1alpha1.RouteMatch{{Method: &v1alpha1.StringMatch{Exact: "GET"}, Path: &v1alpha1.StringMatch{Prefix: "/api"}}}}

func ptr(v int32) *int32 { return &v }

// Run runs every test of the suite.
func (s Suite) Run(t *testing.T) {
	t.Run(s.Name+"/weights", func(t *testing.T) {
		f := s.New(t)
		for _, w := range []int32{0, 5, 50, 100, 0} {
			if err := f.Router().SetWeight(t.Context(), w); err != nil {
				t.Fatalf("SetWeight(%d): %v", w, err)
			}
			if got := f.Weight(t); got != w {
				t.Errorf("after SetWeight(%d) the objects show %d", w, got)
			}
		}
	})
	t.Run(s.Name+"/idempotent", func(t *testing.T) {
		f := s.New(t)
		if err := f.Router().SetWeight(t.Context(), 30); err != nil {
			t.Fatal(err)
		}
		before := f.Writes()
		for range 3 {
			if err := f.Router().SetWeight(t.Context(), 30); err != nil {
				t.Fatal(err)
			}
			if err := f.Router().UpdateHash(t.Context(), "canary", "stable"); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.Writes() - before; got != 0 {
			t.Errorf("re-applying the same weight made %d writes", got)
		}
	})
	t.Run(s.Name+"/header-route", func(t *testing.T) {
		f := s.New(t)
		h, ok := f.Router().(trafficrouting.HeaderRouter)
		if s.NoHeaderRoutes {
			if ok {
				t.Error("declared without header routes, but implements HeaderRouter")
			}
			t.Skip("the router has no header routes")
		}
		if !ok {
			t.Fatal("does not implement HeaderRouter")
		}
		if err := h.SetHeaderRoute(t.Context(), header); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.Routes(t); len(got) != 1 || got[0] != "beta" {
			t.Errorf("header routes %v, want [beta]", got)
		}
		before := f.Writes()
		if err := h.SetHeaderRoute(t.Context(), header); err != nil {
			t.Fatal(err)
		}
		if f.Writes() != before {
			t.Error("re-applying the header route wrote")
		}
		if err := h.SetHeaderRoute(t.Context(), &v1alpha1.SetHeaderRoute{Name: "beta"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.Routes(t); len(got) != 0 {
			t.Errorf("header routes %v after removal", got)
		}
	})
	t.Run(s.Name+"/mirror-route", func(t *testing.T) {
		f := s.New(t)
		m, ok := f.Router().(trafficrouting.MirrorRouter)
		if s.NoMirrorRoutes {
			if ok {
				t.Error("declared without mirror routes, but implements MirrorRouter")
			}
			t.Skip("the router has no mirror routes")
		}
		if !ok {
			t.Fatal("does not implement MirrorRouter")
		}
		if err := m.SetMirrorRoute(t.Context(), mirror); err != nil {
			t.Fatal(err)
		}
		if _, got := f.Routes(t); len(got) != 1 || got[0] != "shadow" {
			t.Errorf("mirror routes %v, want [shadow]", got)
		}
		if err := m.SetMirrorRoute(t.Context(), &v1alpha1.SetMirrorRoute{Name: "shadow"}); err != nil {
			t.Fatal(err)
		}
		if _, got := f.Routes(t); len(got) != 0 {
			t.Errorf("mirror routes %v after removal", got)
		}
	})
	t.Run(s.Name+"/additional-destinations", func(t *testing.T) {
		// A weighted experiment: its templates' Services get their share
		// beside the canary's, and lose it after.
		f := s.New(t)
		d, ok := f.Router().(trafficrouting.DestinationRouter)
		if s.NoDestinations {
			if ok {
				t.Error("declared without destinations, but implements DestinationRouter")
			}
			t.Skip("the router has no additional destinations")
		}
		df, fok := f.(DestinationFixture)
		if !ok || !fok {
			t.Fatalf("implements DestinationRouter: %v; its fixture DestinationFixture: %v", ok, fok)
		}
		before := f.Foreign(t)
		dests := []v1alpha1.WeightDestination{{ServiceName: "exp-baseline", Weight: 5}, {ServiceName: "exp-canary", Weight: 10}}
		if err := d.SetWeightAndDestinations(t.Context(), 20, dests); err != nil {
			t.Fatal(err)
		}
		if got, want := df.Destinations(t), map[string]int32{"exp-baseline": 5, "exp-canary": 10}; !maps.Equal(got, want) || f.Weight(t) != 20 {
			t.Errorf("destinations %v, canary weight %d: want %v and 20", got, f.Weight(t), want)
		}
		writes := f.Writes()
		if err := d.SetWeightAndDestinations(t.Context(), 20, dests); err != nil {
			t.Fatal(err)
		}
		if f.Writes() != writes {
			t.Error("re-applying the same destinations wrote")
		}
		if err := d.SetWeightAndDestinations(t.Context(), 20, dests[1:]); err != nil {
			t.Fatal(err)
		}
		if got := df.Destinations(t); len(got) != 1 || got["exp-canary"] != 10 {
			t.Errorf("destinations %v after one was dropped", got)
		}
		if err := f.Router().SetWeight(t.Context(), 20); err != nil {
			t.Fatal(err)
		}
		if got := df.Destinations(t); len(got) != 0 || f.Weight(t) != 20 {
			t.Errorf("after SetWeight: destinations %v, canary weight %d", got, f.Weight(t))
		}
		if after := f.Foreign(t); after != before {
			t.Errorf("the destinations changed what is not the router's:\nbefore %s\nafter  %s", before, after)
		}
	})
	t.Run(s.Name+"/reset-to-stable", func(t *testing.T) {
		// What an abort (or a deleted Rollout) does: weight 0, managed
		// routes gone.
		f := s.New(t)
		r := f.Router()
		if err := r.SetWeight(t.Context(), 60); err != nil {
			t.Fatal(err)
		}
		if h, ok := r.(trafficrouting.HeaderRouter); ok {
			if err := h.SetHeaderRoute(t.Context(), header); err != nil {
				t.Fatal(err)
			}
		}
		if m, ok := r.(trafficrouting.MirrorRouter); ok {
			if err := m.SetMirrorRoute(t.Context(), mirror); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.SetWeight(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
		if err := r.RemoveManagedRoutes(t.Context()); err != nil {
			t.Fatal(err)
		}
		h, m := f.Routes(t)
		if got := f.Weight(t); got != 0 || len(h)+len(m) != 0 {
			t.Errorf("after reset: weight %d, routes %v %v", got, h, m)
		}
	})
	t.Run(s.Name+"/foreign-fields-untouched", func(t *testing.T) {
		f := s.New(t)
		before := f.Foreign(t)
		r := f.Router()
		_ = r.SetWeight(t.Context(), 40)
		if h, ok := r.(trafficrouting.HeaderRouter); ok {
			_ = h.SetHeaderRoute(t.Context(), header)
		}
		if m, ok := r.(trafficrouting.MirrorRouter); ok {
			_ = m.SetMirrorRoute(t.Context(), mirror)
		}
		if after := f.Foreign(t); after != before {
			t.Errorf("the router changed what is not its own:\nbefore %s\nafter  %s", before, after)
		}
		_ = r.RemoveManagedRoutes(t.Context())
		_ = r.SetWeight(t.Context(), 0)
		if after := f.Foreign(t); after != before {
			t.Errorf("after reset, what is not the router's differs:\nbefore %s\nafter  %s", before, after)
		}
	})
	t.Run(s.Name+"/missing-object", func(t *testing.T) {
		f := s.New(t)
		if err := f.Router().SetWeight(t.Context(), 20); err != nil {
			t.Fatal(err)
		}
		f.Remove(t)
		err := f.Router().SetWeight(t.Context(), 10)
		switch {
		case s.CreatesItsObjects && err != nil:
			t.Errorf("SetWeight did not create its object again: %v", err)
		case s.CreatesItsObjects && f.Weight(t) != 10:
			t.Errorf("the object created again shows %d", f.Weight(t))
		case !s.CreatesItsObjects && err == nil:
			t.Error("SetWeight on a missing object reported nothing")
		}
	})
}
