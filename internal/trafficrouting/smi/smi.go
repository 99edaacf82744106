// Package smi is the SMI traffic router: Ramp creates and owns a
// TrafficSplit (split.smi-spec.io, v1alpha1 by default, as Argo Rollouts)
// that weights the canary and stable Services behind the root Service.
package smi

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// DefaultVersion is the TrafficSplit version written.
const DefaultVersion = "v1alpha1"

// Router writes one rollout's TrafficSplit.
type Router struct {
	reader    ctrl.Reader
	writer    ctrl.Writer
	ro        *v1alpha1.Rollout
	name      string
	root      string
	stable    string
	canary    string
	maxWeight int32
	version   string
}

var _ trafficrouting.Router = (*Router)(nil)

// New is the router of ro's trafficRouting.smi, writing TrafficSplits of
// version (DefaultVersion when empty).
func New(reader ctrl.Reader, writer ctrl.Writer, ro *v1alpha1.Rollout, version string) (*Router, error) {
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil || c.TrafficRouting.SMI == nil {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary.trafficRouting.smi is not set"}
	}
	if c.StableService == "" || c.CanaryService == "" {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary: the smi router needs canaryService and stableService"}
	}
	s := c.TrafficRouting.SMI
	r := &Router{reader: reader, writer: writer, ro: ro, name: s.TrafficSplitName, root: s.RootService,
		stable: c.StableService, canary: c.CanaryService, maxWeight: c.GetMaxTrafficWeight(), version: version}
	if r.name == "" {
		r.name = ro.Name
	}
	if r.root == "" {
		r.root = r.stable
	}
	if r.version == "" {
		r.version = DefaultVersion
	}
	return r, nil
}

// Type is "smi".
func (r *Router) Type() string { return "smi" }

// UpdateHash has nothing to do: the split names Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// RemoveManagedRoutes has nothing to remove.
func (r *Router) RemoveManagedRoutes(context.Context) error { return nil }

// SetWeight creates or updates the TrafficSplit; it writes only what
// differs.
func (r *Router) SetWeight(ctx context.Context, weight int32) error {
	return r.SetWeightAndDestinations(ctx, weight, nil)
}

// SetWeightAndDestinations splits the traffic between the canary, one
// backend per destination (weighted experiment templates' Services) and
// the stable version, which gets the rest.
func (r *Router) SetWeightAndDestinations(ctx context.Context, weight int32, destinations []v1alpha1.WeightDestination) error {
	stable := r.maxWeight - weight
	backends := []any{map[string]any{"service": r.canary, "weight": int64(weight)}}
	for _, d := range destinations {
		backends = append(backends, map[string]any{"service": d.ServiceName, "weight": int64(d.Weight)})
		stable -= d.Weight
	}
	backends = append(backends, map[string]any{"service": r.stable, "weight": int64(stable)})
	want := map[string]any{"service": r.root, "backends": backends}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("split.smi-spec.io/" + r.version)
	obj.SetKind("TrafficSplit")
	err := r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.ro.Namespace, Name: r.name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		obj.SetName(r.name)
		obj.SetNamespace(r.ro.Namespace)
		obj.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(r.ro, v1alpha1.SchemeGroupVersion.WithKind("Rollout"))})
		obj.SetLabels(map[string]string{v1alpha1.ManagedLabelKey: "true"})
		obj.SetAnnotations(map[string]string{v1alpha1.ManagedByRolloutsKey: r.ro.Name})
		obj.Object["spec"] = want
		if err := r.writer.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating TrafficSplit %s: %w", r.name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading TrafficSplit %s: %w", r.name, err)
	}
	if ref := metav1.GetControllerOf(obj); ref == nil || ref.Kind != "Rollout" || ref.Name != r.ro.Name {
		return fmt.Errorf("TrafficSplit %s exists and is not this rollout's", r.name)
	}
	spec, _ := obj.Object["spec"].(map[string]any)
	if sameSplit(spec, want) {
		return nil
	}
	if spec == nil {
		spec = map[string]any{}
	}
	spec["service"], spec["backends"] = want["service"], want["backends"]
	obj.Object["spec"] = spec
	if err := r.writer.Update(ctx, obj); err != nil {
		return fmt.Errorf("updating TrafficSplit %s: %w", r.name, err)
	}
	return nil
}

// sameSplit compares a stored split with the wanted one; weights may come
// back as numbers or (v1alpha1 quantities) strings.
func sameSplit(have, want map[string]any) bool {
	if have == nil || have["service"] != want["service"] {
		return false
	}
	h, _ := have["backends"].([]any)
	w := want["backends"].([]any)
	if len(h) != len(w) {
		return false
	}
	for i := range w {
		hb, _ := h[i].(map[string]any)
		wb := w[i].(map[string]any)
		if hb == nil || hb["service"] != wb["service"] || fmt.Sprint(hb["weight"]) != fmt.Sprint(wb["weight"]) {
			return false
		}
	}
	return true
}
