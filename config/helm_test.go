package config_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/app"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/manifest"
	"github.com/rampdev/ramp/internal/notify"
)

// chartDir is the Helm chart.
const chartDir = "../charts/ramp"

// rendered is the chart rendered as `helm template` renders it, with
// Helm's own Go library: its CRDs (crds/) and its objects.
type rendered struct {
	crds, objects []*unstructured.Unstructured
}

func (r rendered) find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (r rendered) kinds() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(out)
	return out
}

func renderChart(namespace, values string) (rendered, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return rendered{}, err
	}
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
		return rendered{}, err
	}
	top, err := util.ToRenderValues(chrt, vals, common.ReleaseOptions{Name: "ramp", Namespace: namespace, Revision: 1, IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		return rendered{}, err
	}
	files, err := engine.Render(chrt, top)
	if err != nil {
		return rendered{}, err
	}
	var out rendered
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range files {
			if !yield(name) {
				return
			}
		}
	})
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		docs, err := manifest.Split(name, []byte(files[name]))
		if err != nil {
			return rendered{}, err
		}
		for _, d := range docs {
			out.objects = append(out.objects, &unstructured.Unstructured{Object: d.Object})
		}
	}
	for _, crd := range chrt.CRDObjects() {
		docs, err := manifest.Split(crd.Name, crd.File.Data)
		if err != nil {
			return rendered{}, err
		}
		for _, d := range docs {
			out.crds = append(out.crds, &unstructured.Unstructured{Object: d.Object})
		}
	}
	return out, nil
}

func mustRender(t *testing.T, namespace, values string) rendered {
	t.Helper()
	r, err := renderChart(namespace, values)
	if err != nil {
		t.Fatalf("rendering the chart with %q: %v", values, err)
	}
	return r
}

func deployment(t *testing.T, r rendered) *appsv1.Deployment {
	t.Helper()
	u := r.find("Deployment", "ramp-controller")
	if u == nil {
		t.Fatalf("no Deployment; the chart renders %v", r.kinds())
	}
	d := &appsv1.Deployment{}
	b, _ := u.MarshalJSON()
	if err := yaml.UnmarshalStrict(b, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// rules is a role's rules as YAML decodes them.
func rules(obj map[string]any) any { return obj["rules"] }

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The chart, rendered with its defaults and with a few value sets, holds
// what the kustomize install holds: the same CRDs, the same RBAC rules,
// an HA controller that runs non-root on a read-only root filesystem
// without capabilities.
func TestHelmChartRenders(t *testing.T) {
	def := mustRender(t, "ramp-system", "")
	for _, want := range []string{"ServiceAccount/ramp-controller", "ClusterRole/ramp-controller", "ClusterRoleBinding/ramp-controller",
		"Role/ramp-controller-leader-election", "RoleBinding/ramp-controller-leader-election", "Deployment/ramp-controller",
		"Service/ramp-controller-metrics", "PodDisruptionBudget/ramp-controller"} {
		if !slices.Contains(def.kinds(), want) {
			t.Errorf("the default chart lacks %s; it renders %v", want, def.kinds())
		}
	}
	for _, notWanted := range []string{"ServiceMonitor/ramp-controller", "ConfigMap/ramp-controller-grafana-dashboard", "Role/ramp-controller"} {
		if slices.Contains(def.kinds(), notWanted) {
			t.Errorf("the default chart renders %s", notWanted)
		}
	}

	// CRDs: the same files as config/crd/bases.
	bases, err := filepath.Glob("crd/bases/*.yaml")
	if err != nil || len(bases) == 0 {
		t.Fatalf("config/crd/bases: %v", err)
	}
	if len(def.crds) != len(bases) {
		t.Errorf("the chart has %d CRDs, config/crd/bases %d", len(def.crds), len(bases))
	}
	for _, base := range bases {
		want, _ := os.ReadFile(base)
		got, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(base)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("charts/ramp/crds/%s differs from %s: run make generate", filepath.Base(base), base)
		}
	}
	// RBAC: the generated rules.
	if got, want := rules(def.find("ClusterRole", "ramp-controller").Object), rules(readYAML(t, "rbac/role.yaml")); !reflect.DeepEqual(got, want) {
		t.Errorf("the chart's ClusterRole rules differ from config/rbac/role.yaml:\n%v\n%v", got, want)
	}
	if got, want := rules(def.find("Role", "ramp-controller-leader-election").Object), rules(readYAML(t, "rbac/leader_election_role.yaml")); !reflect.DeepEqual(got, want) {
		t.Errorf("the chart's leader-election rules differ from config/rbac: %v", got)
	}

	d := deployment(t, def)
	c := d.Spec.Template.Spec.Containers[0]
	sc, psc := c.SecurityContext, d.Spec.Template.Spec.SecurityContext
	switch {
	case ptr.Deref(d.Spec.Replicas, 0) != 2:
		t.Errorf("replicas %v", d.Spec.Replicas)
	case psc == nil || !ptr.Deref(psc.RunAsNonRoot, false):
		t.Errorf("pod security context %+v", psc)
	case sc == nil || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) || ptr.Deref(sc.AllowPrivilegeEscalation, true) || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
		t.Errorf("container security context %+v", sc)
	case c.Image != "ghcr.io/rampdev/ramp-controller:v0.1.0":
		t.Errorf("image %s", c.Image)
	case !slices.Contains(c.Args, "--leader-elect=true") || slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--namespace") }):
		t.Errorf("args %v", c.Args)
	case c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero():
		t.Errorf("resources %+v", c.Resources)
	}

	// One namespace: Roles only, with config/namespaced's rules, and the
	// controller told so.
	ns := mustRender(t, "team-a", "scope: namespace")
	if ns.find("ClusterRole", "ramp-controller") != nil || ns.find("ClusterRoleBinding", "ramp-controller") != nil {
		t.Errorf("scope: namespace renders cluster roles: %v", ns.kinds())
	}
	role := ns.find("Role", "ramp-controller")
	if role == nil || role.GetNamespace() != "team-a" {
		t.Fatalf("scope: namespace: no Role in team-a: %v", ns.kinds())
	}
	if got, want := rules(role.Object), rules(readYAML(t, "namespaced/role.yaml")); !reflect.DeepEqual(got, want) {
		t.Errorf("the namespaced Role's rules differ from config/namespaced/role.yaml")
	}
	if args := deployment(t, ns).Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--namespace=$(POD_NAMESPACE)") {
		t.Errorf("scope: namespace: args %v", args)
	}

	// The optional parts.
	opt := mustRender(t, "ramp-system", `
metrics: {serviceMonitor: {enabled: true, labels: {release: prom}}}
grafanaDashboard: {enabled: true}
instanceID: blue
extraArgs: ["--aws-verify-target-group"]
replicaCount: 1
image: {tag: v9.9.9}
`)
	if sm := opt.find("ServiceMonitor", "ramp-controller"); sm == nil || sm.GetLabels()["release"] != "prom" {
		t.Errorf("no ServiceMonitor labelled release=prom: %v", opt.kinds())
	}
	cm := opt.find("ConfigMap", "ramp-controller-grafana-dashboard")
	want, _ := os.ReadFile("grafana/ramp-rollouts.json")
	if got, _, _ := unstructured.NestedString(cm.Object, "data", "ramp-rollouts.json"); cm == nil || strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
		t.Errorf("the dashboard ConfigMap does not hold config/grafana/ramp-rollouts.json")
	}
	od := deployment(t, opt)
	if args := od.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--instance-id=blue") || !slices.Contains(args, "--aws-verify-target-group") {
		t.Errorf("args %v", args)
	}
	if od.Spec.Template.Spec.Containers[0].Image != "ghcr.io/rampdev/ramp-controller:v9.9.9" || opt.find("PodDisruptionBudget", "ramp-controller") != nil {
		t.Errorf("image %s, kinds %v", od.Spec.Template.Spec.Containers[0].Image, opt.kinds())
	}

	// Notifications: the built-in triggers and templates, with services and
	// subscriptions from the values, and the Secret.
	notif := mustRender(t, "ramp-system", `
notifications:
  configMap: {create: true}
  services: {slack: {token: $slack-token}, webhook.deploys: {url: "https://example.com/hook"}}
  subscriptions: [{recipients: ["slack:ops"], triggers: [on-rollout-aborted]}]
  data: {template.rollout-aborted: "message: gone"}
  secret: {create: true, items: {slack-token: xoxb-1}}
`)
	ncm := notif.find("ConfigMap", "ramp-notification-configmap")
	if ncm == nil || notif.find("Secret", "ramp-notification-secret") == nil {
		t.Fatalf("no notification ConfigMap or Secret: %v", notif.kinds())
	}
	data, _, _ := unstructured.NestedStringMap(ncm.Object, "data")
	builtin := readYAML(t, "notifications/ramp-notification-configmap.yaml")["data"].(map[string]any)
	for key, v := range builtin {
		if key != "template.rollout-aborted" && data[key] != v {
			t.Errorf("the chart's %s differs from config/notifications'", key)
		}
	}
	if data["template.rollout-aborted"] != "message: gone" || !strings.Contains(data["service.slack"], "token: $slack-token") ||
		!strings.Contains(data["service.webhook.deploys"], "https://example.com/hook") || !strings.Contains(data["subscriptions"], "slack:ops") {
		t.Errorf("notification data %v", data)
	}
	if _, err := notify.Load(t.Context(), fakeConfig{ncm}, "ramp-system"); err != nil {
		t.Errorf("the engine refuses the chart's ConfigMap: %v", err)
	}

	// Bad values are refused with the field named.
	for values, msg := range map[string]string{
		"scope: everywhere": `scope: "everywhere" is neither cluster nor namespace`,
		"metrics: {service: {enabled: false}, serviceMonitor: {enabled: true}}": "metrics.serviceMonitor.enabled needs metrics.service.enabled",
	} {
		if _, err := renderChart("ramp-system", values); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want an error saying %q", values, err, msg)
		}
	}
}

// installChart applies the rendered chart (CRDs first) to the cluster, but
// not its Deployment: the test runs the controller itself, as the
// ServiceAccount the chart created.
func installChart(t *testing.T, admin client.Client, r rendered, namespace string) {
	t.Helper()
	ctx := t.Context()
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	for _, o := range append(append([]*unstructured.Unstructured{}, r.crds...), r.objects...) {
		if err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("helm-test"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// A canary rollout carried to Healthy, then through a new image.
func releaseOnce(t *testing.T, admin client.Client, namespace string) {
	t.Helper()
	ctx := t.Context()
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: namespace},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/web:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{{SetWeight: ptr.To[int32](50)}}}},
		},
	}
	if err := admin.Create(ctx, ro); err != nil {
		t.Fatal(err)
	}
	healthy := func(image string) {
		t.Helper()
		eventually(t, time.Minute, "web Healthy at "+image, func() (bool, string) {
			got := &v1alpha1.Rollout{}
			if err := admin.Get(ctx, client.ObjectKeyFromObject(ro), got); err != nil {
				return false, err.Error()
			}
			return got.Status.Phase == v1alpha1.RolloutPhaseHealthy && got.Status.ObservedGeneration == fmt.Sprint(got.Generation) &&
				got.Spec.Template.Spec.Containers[0].Image == image && got.Status.StableRS == got.Status.CurrentPodHash, fmt.Sprintf("%s: %s", got.Status.Phase, got.Status.Message)
		})
	}
	healthy("example/web:1")
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = "example/web:2"
	if err := admin.Patch(ctx, ro, patch); err != nil {
		t.Fatal(err)
	}
	healthy("example/web:2")
}

// The chart installs on the in-process cluster; its Deployment becomes
// available, and a controller running as the chart's ServiceAccount (with
// only the chart's RBAC) elects itself and carries a release. With
// scope: namespace, the same with the chart's Roles in one namespace.
func TestHelmInstallRunsAsItsServiceAccount(t *testing.T) {
	ctrl.SetLogger(logr.Discard())
	for _, tc := range []struct {
		name, namespace, values string
	}{
		{"cluster", "ramp-system", ""},
		{"namespace", "team-a", "scope: namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			c, admin := clustertest.Start(t)
			installChart(t, admin, mustRender(t, tc.namespace, tc.values), tc.namespace)
			eventually(t, 60*time.Second, "the controller Deployment available", func() (bool, string) {
				d := &appsv1.Deployment{}
				if err := admin.Get(ctx, client.ObjectKey{Namespace: tc.namespace, Name: "ramp-controller"}, d); err != nil {
					return false, err.Error()
				}
				return d.Status.AvailableReplicas == 2, fmt.Sprintf("%+v", d.Status)
			})
			cfg := clustertest.RecordRequests(c.Config())
			cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + tc.namespace + ":ramp-controller"}
			opts := app.Options{LeaderElect: true, LeaderElectionNamespace: tc.namespace, SkipControllerNameValidation: true}
			if tc.name == "namespace" {
				opts.Namespace = tc.namespace
			}
			mgr, err := app.NewManager(cfg, opts)
			if err == nil {
				err = app.Setup(mgr, opts)
			}
			if err != nil {
				t.Fatal(err)
			}
			clustertest.RunManager(t, mgr)
			eventually(t, 30*time.Second, "the controller elected", func() (bool, string) { return elected(mgr), "" })
			releaseOnce(t, admin, tc.namespace)
		})
	}
}

// fakeConfig reads a rendered ConfigMap as if it were in the cluster (and
// no Secret): what notify.Load parses.
type fakeConfig struct{ cm *unstructured.Unstructured }

func (f fakeConfig) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if cm, ok := obj.(*corev1.ConfigMap); ok && key.Name == f.cm.GetName() {
		return runtime.DefaultUnstructuredConverter.FromUnstructured(f.cm.Object, cm)
	}
	return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
}

func (f fakeConfig) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return fmt.Errorf("not used")
}
