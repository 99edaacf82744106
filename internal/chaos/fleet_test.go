package chaos_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cli"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// member is one rollout of the fleet.
type member struct {
	name string
	kind kind
}

// fleet is the rollouts under test and the image each should end at.
type fleet struct {
	members []member
	byName  map[string]member
	updates atomic.Int64

	mu     sync.Mutex
	latest map[string]int // rollout -> image version
}

// newFleet has perKind rollouts of each kind the CLI races (blue/green and
// basic canary), and a quarter as many (at least 2) of the others.
func newFleet(perKind int) *fleet {
	f := &fleet{byName: map[string]member{}, latest: map[string]int{}}
	for _, k := range kinds() {
		n := perKind
		if !k.cli {
			n = max(2, perKind/4)
		}
		for i := range n {
			m := member{name: fmt.Sprintf("%s-%d", k.prefix, i), kind: k}
			f.members = append(f.members, m)
			f.byName[m.name] = m
			f.latest[m.name] = 1
		}
	}
	return f
}

// converge waits until every rollout reached the end its kind allows at
// its latest image.
func (f *fleet) converge(t *testing.T, admin client.Client, what string) {
	t.Helper()
	clustertest.Eventually(t, 3*time.Minute, what, func() (bool, string) {
		var why []string
		for _, m := range f.members {
			ro := &v1alpha1.Rollout{}
			if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: m.name}, ro); err != nil {
				return false, err.Error()
			}
			f.mu.Lock()
			v := f.latest[m.name]
			f.mu.Unlock()
			if ok, w := done(ro, image(v), m.kind.bad); !ok {
				why = append(why, w)
			}
		}
		return len(why) == 0, strings.Join(why, "; ")
	})
}

// act updates rollouts at random (often mid-update) and runs `ramp`
// actions on the CLI kinds at random, until the returned function is
// called; it returns what the actions did.
func (f *fleet) act(t *testing.T, admin client.Client, kubeconfig string, seed int64) func() string {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	updateRand, cliRand := rand.New(rand.NewSource(seed+1)), rand.New(rand.NewSource(seed+2))
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(100+updateRand.Intn(700)) * time.Millisecond):
			}
			m := f.members[updateRand.Intn(len(f.members))]
			f.mu.Lock()
			f.latest[m.name]++
			v := f.latest[m.name]
			f.mu.Unlock()
			patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image(v))
			if err := admin.Patch(context.Background(), &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: m.name}}, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
				t.Errorf("updating %s: %v", m.name, err)
				return
			}
			f.updates.Add(1)
		}
	}()
	var cliMembers []member
	for _, m := range f.members {
		if m.kind.cli {
			cliMembers = append(cliMembers, m)
		}
	}
	actions := [][]string{{"promote"}, {"promote", "--full"}, {"abort"}, {"retry"}, {"pause"}, {"resume"}}
	var done, refused atomic.Int64
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(200+cliRand.Intn(800)) * time.Millisecond):
			}
			m := cliMembers[cliRand.Intn(len(cliMembers))]
			args := append(append([]string{}, actions[cliRand.Intn(len(actions))]...), m.name)
			if err := ramp(kubeconfig, args...); err != nil {
				refused.Add(1)
			} else {
				done.Add(1)
			}
		}
	}()
	return func() string {
		close(stop)
		wg.Wait()
		return fmt.Sprintf("%d ramp actions taken (%d refused)", done.Load(), refused.Load())
	}
}

// settle lifts what the CLI left behind, as a user would before walking
// away: a rollout paused by `ramp pause` is resumed, an aborted one that is
// not bad is retried.
func (f *fleet) settle(t *testing.T, kubeconfig string) {
	t.Helper()
	for _, m := range f.members {
		if !m.kind.cli {
			continue
		}
		_ = ramp(kubeconfig, "resume", m.name) // refused when not paused
		_ = ramp(kubeconfig, "retry", m.name)  // refused when not aborted
	}
}

// ramp runs the CLI in the chaos namespace; its error is a refusal or a
// failure.
func ramp(kubeconfig string, args ...string) error {
	var out bytes.Buffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &out})
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...))
	return cmd.ExecuteContext(context.Background())
}
