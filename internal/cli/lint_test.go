package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runOffline runs a command that needs no cluster.
func runOffline(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := New("ramp", Options{Out: &out, Err: &errOut})
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

const validRollout = `apiVersion: ramp.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: web:1}]}
  strategy:
    canary:
      steps: [{setWeight: 20}, {pause: {}}]
`

func TestLint(t *testing.T) {
	for _, tc := range []struct {
		name     string
		manifest string
		want     []string // lines of output, in order
		fails    bool
	}{
		{"valid", validRollout + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n", []string{"1 Ramp object, no problems"}, false},
		{"step with two actions", strings.Replace(validRollout, "{setWeight: 20}", "{setWeight: 20, pause: {}}", 1),
			[]string{`manifest.yaml#1 Rollout "web": spec.strategy.canary.steps[0]: Invalid value`}, true},
		{"weight above 100", strings.Replace(validRollout, "setWeight: 20", "setWeight: 120", 1),
			[]string{`spec.strategy.canary.steps[0].setWeight`}, true},
		{"unknown field", strings.Replace(validRollout, "steps:", "stepz: []\n      steps:", 1),
			[]string{`unknown field "spec.strategy.canary.stepz"`}, true},
		{"selector does not match", strings.Replace(validRollout, "labels: {app: web}", "labels: {app: other}", 1),
			[]string{`spec.template.metadata.labels`}, true},
		{"argo apiVersion: checked as converted", strings.Replace(validRollout, "ramp.dev/v1alpha1", "argoproj.io/v1alpha1", 1),
			[]string{"1 Ramp object, no problems"}, false},
		{"argo apiVersion with a problem", strings.Replace(strings.Replace(validRollout, "ramp.dev/v1alpha1", "argoproj.io/v1alpha1", 1), "setWeight: 20", "setWeight: 120", 1),
			[]string{`spec.strategy.canary.steps[0].setWeight`}, true},
		{"analysis template without provider", "apiVersion: ramp.dev/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  metrics: [{name: m, provider: {}}]\n",
			[]string{`AnalysisTemplate "t": spec.metrics[0].provider`}, true},
		{"two problems in one rollout", strings.Replace(strings.Replace(validRollout, "setWeight: 20", "setWeight: 120", 1), "{pause: {}}", "{pause: {}, setWeight: 1}", 1),
			[]string{"steps[0].setWeight", "steps[1]"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runOffline(t, "lint", "-f", writeFile(t, tc.manifest))
			if tc.fails != (err != nil) || (err != nil && !errors.Is(err, ErrLint)) {
				t.Errorf("error %v, want failure %v", err, tc.fails)
			}
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("output lacks %q (in order):\n%s", w, out)
					break
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestConvert(t *testing.T) {
	argo := `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
  labels:
    argo-rollouts.argoproj.io/controller-instance-id: blue
  annotations:
    rollout.argoproj.io/revision: "3"
    team: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {argo-rollouts.argoproj.io/restarted-after: "2024-01-01T00:00:00Z"}
    spec: {containers: [{name: app, image: web:1}]}
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      trafficRouting:
        plugins: {argoproj-labs/openshift: {routes: [web]}}
        nginx: {stableIngress: web}
      steps:
      - setWeight: 20
      - experiment: {templates: [{name: a, specRef: canary}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-stable}
spec: {ports: [{port: 80}]}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: errors}
spec:
  metrics:
  - name: errors
    provider: {plugin: {argoproj-labs/sample-prometheus: {query: up}}}
  - name: latency
    provider: {prometheus: {address: "http://prom", query: "up"}}
`
	out, errOut, err := runOffline(t, "convert", "-f", writeFile(t, argo))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"apiVersion: ramp.dev/v1alpha1\nkind: Rollout",
		"ramp.dev/controller-instance-id: blue",
		`rollout.ramp.dev/revision: "3"`,
		"team: web",
		"ramp.dev/restarted-after:",
		"---\napiVersion: v1\nkind: Service",
		"apiVersion: ramp.dev/v1alpha1\nkind: AnalysisTemplate",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("converted manifest lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "argoproj.io") {
		t.Errorf("argoproj.io left in:\n%s", out)
	}
	for _, want := range []string{
		`#1 Rollout "web": spec.strategy.canary.trafficRouting.plugins.argoproj-labs/openshift: Ramp has no plugin routers`,
		`#3 AnalysisTemplate "errors": spec.metrics[0].provider.plugin: the plugin provider is not available in Ramp yet`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("report lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "nginx") || strings.Contains(errOut, "prometheus") || strings.Contains(errOut, "experiment") {
		t.Errorf("reports what Ramp runs:\n%s", errOut)
	}
	// What convert writes, lint accepts (but for what Ramp refuses).
	converted := writeFile(t, out)
	lintOut, _, err := runOffline(t, "lint", "-f", converted)
	if err != nil && !strings.Contains(lintOut, "experiment") {
		t.Errorf("lint of the converted manifest: %v\n%s", err, lintOut)
	}
}

func TestConvertOfRampManifestsChangesNothing(t *testing.T) {
	out, errOut, err := runOffline(t, "convert", "-f", writeFile(t, validRollout))
	if err != nil || errOut != "" || !strings.Contains(out, "apiVersion: ramp.dev/v1alpha1") {
		t.Errorf("%v %q\n%s", err, errOut, out)
	}
}

func TestManifestErrorsNameTheDocument(t *testing.T) {
	_, _, err := runOffline(t, "lint", "-f", writeFile(t, validRollout+"---\nkind: [\n"))
	if err == nil || !strings.Contains(err.Error(), "document 2") {
		t.Errorf("a broken document: %v", err)
	}
	_, _, err = runOffline(t, "lint")
	if err == nil || !strings.Contains(err.Error(), "-f FILE is required") {
		t.Errorf("no -f: %v", err)
	}
}

func TestStyle(t *testing.T) {
	if got := (style{}).status("Paused"); got != "Paused" {
		t.Errorf("plain: %q", got)
	}
	if got := (style{color: true}).status("Degraded"); got != "\x1b[31m✖ Degraded\x1b[0m" {
		t.Errorf("colour: %q", got)
	}
	if got := (style{color: true}).status("Healthy"); got != "\x1b[32m✔ Healthy\x1b[0m" {
		t.Errorf("colour: %q", got)
	}
}

func TestCompletionAndVersionNeedNoCluster(t *testing.T) {
	out, _, err := runOffline(t, "completion", "bash")
	if err != nil || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: %v", err)
	}
}

// The Gateway API plugin's configuration becomes the built-in gatewayAPI
// block; other plugins stay and are reported.
func TestConvertRewritesTheGatewayAPIPlugin(t *testing.T) {
	argo := `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: web:1}]}
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      trafficRouting:
        plugins:
          argoproj-labs/gatewayAPI: {httpRoute: web, namespace: shop}
      steps:
      - setWeight: 20
`
	out, errOut, err := runOffline(t, "convert", "-f", writeFile(t, argo))
	if err != nil || errOut != "" {
		t.Fatalf("%v %q", err, errOut)
	}
	if !strings.Contains(out, "      trafficRouting:\n        gatewayAPI:\n          httpRoute: web\n          namespace: shop\n") || strings.Contains(out, "plugins") {
		t.Errorf("not rewritten to the built-in block:\n%s", out)
	}
	if lintOut, _, err := runOffline(t, "lint", "-f", writeFile(t, out)); err != nil {
		t.Errorf("lint of the converted manifest: %v\n%s", err, lintOut)
	}
	other := strings.Replace(argo, "argoproj-labs/gatewayAPI: {httpRoute: web, namespace: shop}", "acme/router: {}", 1)
	_, errOut, _ = runOffline(t, "convert", "-f", writeFile(t, other))
	if !strings.Contains(errOut, "plugins.acme/router: Ramp has no plugin routers") {
		t.Errorf("another plugin is not reported: %q", errOut)
	}
}
