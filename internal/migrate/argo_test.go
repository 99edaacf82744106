package migrate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cli"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/replicaset"
)

// argoCRDs are Argo Rollouts' CustomResourceDefinitions (testdata/README.md).
const argoCRDs = "testdata/argo-rollouts-crds.yaml"

// argoApp is what Argo Rollouts' controller leaves in a cluster for one
// Rollout at rest, built as that controller writes it: the Rollout with its
// status, a ReplicaSet per revision named <rollout>-<pod-template hash> and
// controlled by the Rollout, the Services whose selectors carry the hash
// and the annotation argo-rollouts.argoproj.io/managed-by-rollouts, and (ALB)
// the Ingress with the forward action and Argo's bookkeeping annotation.
type argoApp struct {
	t      *testing.T
	c      client.Client
	ns     string
	name   string
	spec   map[string]any // strategy
	images []string       // one per revision; the last is current
	// replicas per revision (the last is the current one's).
	replicas []int32
	// status fields beside the ones every Rollout at rest has.
	status map[string]any

	uid    types.UID
	hashes []string
}

func (a *argoApp) template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": a.name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(v)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// create writes the Argo Rollout, its ReplicaSets and Services, and its
// status, as Argo's controller would have.
func (a *argoApp) create() {
	t, ctx := a.t, a.t.Context()
	current := a.template(a.images[len(a.images)-1])
	total := a.replicas[len(a.replicas)-1]
	ro := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": a.name, "namespace": a.ns},
		"spec": map[string]any{
			"replicas": int64(total), "revisionHistoryLimit": int64(3),
			"selector": map[string]any{"matchLabels": map[string]any{"app": a.name}},
			"template": toMap(t, &current),
			"strategy": a.spec,
		},
	}}
	if err := a.c.Create(ctx, ro); err != nil {
		t.Fatal(err)
	}
	a.uid = ro.GetUID()
	for i, image := range a.images {
		tmpl := a.template(image)
		h := replicaset.TemplateHash(&tmpl, nil)
		a.hashes = append(a.hashes, h)
		tmpl.Labels[v1alpha1.DefaultRolloutUniqueLabelKey] = h
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Name: a.name + "-" + h, Namespace: a.ns,
				Labels: map[string]string{"app": a.name, v1alpha1.DefaultRolloutUniqueLabelKey: h},
				Annotations: map[string]string{
					"rollout.argoproj.io/revision":         strconv.Itoa(i + 1),
					"rollout.argoproj.io/desired-replicas": strconv.Itoa(int(total)),
				},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: a.name, UID: a.uid,
					Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
				}},
			},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: ptr.To(a.replicas[i]),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": a.name, v1alpha1.DefaultRolloutUniqueLabelKey: h}},
				Template: tmpl,
			},
		}
		if err := a.c.Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	stable := a.hashes[len(a.hashes)-1]
	status := map[string]any{
		"phase": "Healthy", "currentPodHash": stable, "stableRS": stable, "observedGeneration": "1",
		"replicas": int64(total), "updatedReplicas": int64(total), "readyReplicas": int64(total), "availableReplicas": int64(total),
		"HPAReplicas": int64(total), "selector": "app=" + a.name,
		"conditions": []any{
			map[string]any{"type": "Available", "status": "True", "reason": "AvailableReason", "message": "Rollout has minimum availability", "lastUpdateTime": "2026-11-30T10:00:00Z", "lastTransitionTime": "2026-11-30T10:00:00Z"},
			map[string]any{"type": "Healthy", "status": "True", "reason": "RolloutHealthy", "message": "Rollout is healthy", "lastUpdateTime": "2026-11-30T10:00:00Z", "lastTransitionTime": "2026-11-30T10:00:00Z"},
		},
	}
	for k, v := range a.status {
		status[k] = v
	}
	if err := unstructured.SetNestedField(ro.Object, status, "status"); err != nil {
		t.Fatal(err)
	}
	if err := a.c.Status().Update(ctx, ro); err != nil {
		t.Fatal(err)
	}
}

// service creates a Service selecting the ReplicaSet of hash, managed by
// the Argo Rollout.
func (a *argoApp) service(name, hash string) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.ns, Annotations: map[string]string{"argo-rollouts.argoproj.io/managed-by-rollouts": a.name}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": a.name, v1alpha1.DefaultRolloutUniqueLabelKey: hash},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
	if err := a.c.Create(a.t.Context(), svc); err != nil {
		a.t.Fatal(err)
	}
}

// waitReady waits for the ReplicaSets' pods, as they were when Argo's
// controller left them.
func (a *argoApp) waitReady() {
	clustertest.Eventually(a.t, 60*time.Second, a.name+"'s pods ready", func() (bool, string) {
		for i, h := range a.hashes {
			rs := &appsv1.ReplicaSet{}
			if err := a.c.Get(a.t.Context(), client.ObjectKey{Namespace: a.ns, Name: a.name + "-" + h}, rs); err != nil {
				return false, err.Error()
			}
			if rs.Status.ReadyReplicas != a.replicas[i] {
				return false, rs.Name + " ready " + strconv.Itoa(int(rs.Status.ReadyReplicas))
			}
		}
		return true, ""
	})
}

// snapshot is what a user sees of the objects a migration must not change.
type snapshot struct {
	ReplicaSets map[string]types.UID // name → UID
	Pods        map[string]types.UID
	Selectors   map[string]string // Service → hash
	Actions     map[string]string // Ingress annotation → value
}

func take(t *testing.T, c client.Client, ns string) snapshot {
	t.Helper()
	ctx := t.Context()
	s := snapshot{ReplicaSets: map[string]types.UID{}, Pods: map[string]types.UID{}, Selectors: map[string]string{}, Actions: map[string]string{}}
	var rss appsv1.ReplicaSetList
	var pods corev1.PodList
	var svcs corev1.ServiceList
	var ings networkingv1.IngressList
	for _, l := range []client.ObjectList{&rss, &pods, &svcs, &ings} {
		if err := c.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, rs := range rss.Items {
		s.ReplicaSets[rs.Name] = rs.UID
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			s.Pods[p.Name] = p.UID
		}
	}
	for _, svc := range svcs.Items {
		s.Selectors[svc.Name] = svc.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]
	}
	for _, ing := range ings.Items {
		for k, v := range ing.Annotations {
			if strings.HasPrefix(k, "alb.ingress.kubernetes.io/actions.") {
				s.Actions[ing.Name+" "+k] = v
			}
		}
	}
	return s
}

func (s snapshot) String() string {
	b, _ := json.MarshalIndent(s, "", "  ")
	return string(b)
}

// rampCLI runs the CLI as a user would, with the cluster's kubeconfig.
func rampCLI(t *testing.T, c *cluster.Cluster, ns string, args ...string) (string, error) {
	t.Helper()
	kc, err := c.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := cli.New("ramp", cli.Options{Out: &out, Err: &out})
	cmd.SetArgs(append([]string{"--kubeconfig", path, "-n", ns}, args...))
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	return out.String(), err
}

func mustCLI(t *testing.T, c *cluster.Cluster, ns string, args ...string) string {
	t.Helper()
	out, err := rampCLI(t, c, ns, args...)
	if err != nil {
		t.Fatalf("ramp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
}

// rampRollout waits for Ramp's Rollout to satisfy cond.
func rampRollout(t *testing.T, c client.Client, ns, name, what string, cond func(*v1alpha1.Rollout) bool) *v1alpha1.Rollout {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	clustertest.Eventually(t, 90*time.Second, name+": "+what, func() (bool, string) {
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
			return false, err.Error()
		}
		b, _ := json.Marshal(ro.Status)
		return cond(ro), string(b)
	})
	return ro
}

// argoObject reads an Argo Rollout.
func argoObject(t *testing.T, c client.Client, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("argoproj.io/v1alpha1")
	u.SetKind("Rollout")
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	return u
}
