package config_test

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampdev/ramp/config"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
)

// roles are the rules the controller ships with: its ClusterRole and the
// leader-election Role.
func roles(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	objs, err := config.Objects()
	if err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole", "Role":
			var r rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				t.Fatal(err)
			}
			rules = append(rules, r.Rules...)
		}
	}
	return rules
}

// grant is one verb on one resource of one group.
type grant struct{ verb, group, resource string }

func (g grant) String() string { return g.verb + " " + g.group + " " + g.resource }

// The controller's roles grant exactly what it uses: every request it made
// across the test suite (recorded by clustertest.RecordRequests when `make
// test` sets RAMP_REQUEST_LOG) was allowed and is granted, and every verb
// granted was used.
func TestRolesMatchTheRequests(t *testing.T) {
	dir := os.Getenv(clustertest.RequestLogEnv)
	if dir == "" {
		t.Skipf("%s is not set: `make test` sets it, runs the suite, then this test", clustertest.RequestLogEnv)
	}
	granted := map[grant]bool{}
	for _, r := range roles(t) {
		for _, g := range r.APIGroups {
			if g == "" {
				g = `""`
			}
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					granted[grant{v, g, res}] = false
				}
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "requests-*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no requests recorded in %s (%v)", dir, err)
	}
	for _, f := range files {
		file, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		s := bufio.NewScanner(file)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) != 4 {
				continue
			}
			g := grant{fields[0], fields[1], fields[2]}
			if fields[3] == "refused" {
				t.Errorf("refused: %s", g)
			}
			if _, ok := granted[g]; !ok {
				t.Errorf("made but not granted by the roles: %s", g)
				continue
			}
			granted[g] = true
		}
		file.Close()
	}
	// update on an owner's finalizers is not a request: the
	// OwnerReferencesPermissionEnforcement admission plugin (on in the
	// test cluster) checks it when an object is created with
	// blockOwnerDeletion towards that owner. Rollouts and Experiments own
	// the ReplicaSets and AnalysisRuns they create; AnalysisRuns own their
	// Jobs. (The log does not say which owner a create was for:
	// internal/controller/experiment's tests are those of Experiments.)
	owned := map[string][]grant{
		"rollouts/finalizers":     {{"create", "apps", "replicasets"}, {"create", "ramp.dev", "analysisruns"}},
		"experiments/finalizers":  {{"create", "apps", "replicasets"}, {"create", "ramp.dev", "analysisruns"}},
		"analysisruns/finalizers": {{"create", "batch", "jobs"}},
	}
	for owner, creates := range owned {
		for _, c := range creates {
			if used, ok := granted[c]; ok && used {
				granted[grant{"update", "ramp.dev", owner}] = true
			}
		}
	}
	// An informer may fetch its initial list through a watch (client-go's
	// watch-list, where the API server offers it) and lists otherwise: the
	// list verb goes with the watch.
	for g := range granted {
		if g.verb == "list" && granted[grant{"watch", g.group, g.resource}] {
			granted[g] = true
		}
	}
	var unused []string
	for g, used := range granted {
		if !used {
			unused = append(unused, g.String())
		}
	}
	sort.Strings(unused)
	for _, g := range unused {
		t.Errorf("granted but never used by the suite: %s", g)
	}
}
