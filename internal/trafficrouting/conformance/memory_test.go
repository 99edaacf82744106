package conformance_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/rampdev/ramp/internal/trafficrouting"
	"github.com/rampdev/ramp/internal/trafficrouting/conformance"
	"github.com/rampdev/ramp/internal/trafficrouting/memory"
)

// The in-memory router the controller's tests use passes the suite too
// (it has no objects, so "missing" and "foreign" are trivial).
type memoryFixture struct{ r *memory.Router }

func (f memoryFixture) Router() trafficrouting.Router { return f.r }
func (f memoryFixture) Weight(*testing.T) int32       { return f.r.Weight() }
func (f memoryFixture) Routes(*testing.T) ([]string, []string) {
	return f.r.Routes()
}
func (f memoryFixture) Foreign(*testing.T) string { return "" }
func (f memoryFixture) Writes() int               { return 0 }
func (f memoryFixture) Remove(t *testing.T)       { t.Skip("the in-memory router has no object to remove") }

func TestMemoryRouterConforms(t *testing.T) {
	conformance.Suite{Name: "memory", New: func(t *testing.T) conformance.Fixture {
		return memoryFixture{r: (&memory.Factory{}).For(types.NamespacedName{Namespace: "ns", Name: t.Name()})}
	}}.Run(t)
}

func (f memoryFixture) Destinations(*testing.T) map[string]int32 { return f.r.Destinations() }
