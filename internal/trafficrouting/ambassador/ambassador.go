package ambassador

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// DefaultAPIVersion is the Mapping API Ambassador and Emissary-ingress up
// to 3 store (and Argo Rollouts' default): no conversion webhook between
// the router and the stored object.
const DefaultAPIVersion = "getambassador.io/v2"

// APIVersions the router can use (--ambassador-api-version).
var APIVersions = []string{DefaultAPIVersion, "getambassador.io/v3alpha1"}

// Router routes one rollout through canary copies of its Mappings.
type Router struct {
	reader    ctrl.Reader
	writer    ctrl.Writer
	gvk       schema.GroupVersionKind
	ro        *v1alpha1.Rollout
	mappings  []string
	stable    string
	canary    string
	maxWeight int32
}

var _ trafficrouting.Router = (*Router)(nil)

// New is the router of ro's trafficRouting.ambassador, at apiVersion (one
// of APIVersions; "" is DefaultAPIVersion).
func New(reader ctrl.Reader, writer ctrl.Writer, ro *v1alpha1.Rollout, apiVersion string) (*Router, error) {
	if apiVersion == "" {
		apiVersion = DefaultAPIVersion
	}
	if !slices.Contains(APIVersions, apiVersion) {
		return nil, fmt.Errorf("ambassador API version %q: must be one of %s", apiVersion, strings.Join(APIVersions, ", "))
	}
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil || c.TrafficRouting.Ambassador == nil {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary.trafficRouting.ambassador is not set"}
	}
	if c.StableService == "" || c.CanaryService == "" {
		return nil, &trafficrouting.SpecError{Msg: "spec.strategy.canary: the ambassador router needs canaryService and stableService"}
	}
	gv, _ := schema.ParseGroupVersion(apiVersion)
	return &Router{reader: reader, writer: writer, gvk: gv.WithKind("Mapping"), ro: ro, mappings: c.TrafficRouting.Ambassador.Mappings,
		stable: c.StableService, canary: c.CanaryService, maxWeight: c.GetMaxTrafficWeight()}, nil
}

// Type is "ambassador".
func (r *Router) Type() string { return "ambassador" }

// UpdateHash has nothing to do: Mappings name Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// RemoveManagedRoutes has nothing to remove: no header or mirror routes.
func (r *Router) RemoveManagedRoutes(context.Context) error { return nil }

// CanaryName is the canary Mapping of a Mapping (Argo Rollouts' name).
func CanaryName(mapping string) string {
	if len(mapping) > 246 {
		mapping = mapping[:246]
	}
	return mapping + "-canary"
}

// SetWeight makes each canary Mapping carry weight (out of
// maxTrafficWeight, as a percentage for Emissary), created from its base
// Mapping and kept in step with it; it writes only what differs.
func (r *Router) SetWeight(ctx context.Context, weight int32) error {
	percent := int64(weight) * 100 / int64(r.maxWeight)
	for _, name := range r.mappings {
		if err := r.setWeight(ctx, name, percent); err != nil {
			return err
		}
	}
	return nil
}

func (r *Router) setWeight(ctx context.Context, name string, percent int64) error {
	have, err := r.get(ctx, CanaryName(name))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading Mapping %s: %w", CanaryName(name), err)
	}
	exists := err == nil
	if exists && !trafficrouting.OwnedBy(have, r.ro) {
		return fmt.Errorf("Mapping %s exists and is not this rollout's", CanaryName(name))
	}
	if percent == 0 {
		switch {
		case !exists:
			return nil
		case weightOf(have) != 0:
			// First no traffic, then (next time) no Mapping: Emissary
			// applies the weight before the copy goes.
			if err := unstructured.SetNestedField(have.Object, int64(0), "spec", "weight"); err != nil {
				return err
			}
			return r.write(ctx, have, false)
		}
		if err := r.writer.Delete(ctx, have, ctrl.Preconditions{UID: ptr.To(have.GetUID())}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting Mapping %s: %w", have.GetName(), err)
		}
		return nil
	}
	base, err := r.get(ctx, name)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("Mapping %q %w in namespace %s", name, trafficrouting.ErrMissing, r.ro.Namespace)
	}
	if err != nil {
		return fmt.Errorf("reading Mapping %s: %w", name, err)
	}
	spec, err := r.canarySpec(base, percent)
	if err != nil {
		return err
	}
	if !exists {
		want := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
		want.SetGroupVersionKind(r.gvk)
		want.SetName(CanaryName(name))
		want.SetNamespace(r.ro.Namespace)
		want.SetLabels(map[string]string{v1alpha1.ManagedLabelKey: "true"})
		want.SetAnnotations(map[string]string{v1alpha1.ManagedByRolloutsKey: r.ro.Name})
		want.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(r.ro, v1alpha1.SchemeGroupVersion.WithKind("Rollout"))})
		return r.write(ctx, want, true)
	}
	if trafficrouting.Covers(have.Object["spec"], spec) {
		return nil
	}
	have.Object["spec"] = spec
	return r.write(ctx, have, false)
}

// canarySpec is base's spec sent to the canary Service with the weight.
func (r *Router) canarySpec(base *unstructured.Unstructured, percent int64) (map[string]any, error) {
	spec, _ := base.Object["spec"].(map[string]any)
	if w, ok := spec["weight"].(int64); ok && w != 0 {
		return nil, fmt.Errorf("Mapping %s sets weight %d: Ramp weights a canary copy of it, so it must set none", base.GetName(), w)
	}
	service, _ := spec["service"].(string)
	if !strings.Contains(service, r.stable) {
		return nil, fmt.Errorf("Mapping %s sends to %q, not to the stable Service %s", base.GetName(), service, r.stable)
	}
	out := runtime.DeepCopyJSON(spec)
	out["service"] = strings.Replace(service, r.stable, r.canary, 1)
	out["weight"] = percent
	return out, nil
}

func (r *Router) get(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.gvk)
	return obj, r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.ro.Namespace, Name: name}, obj)
}

func (r *Router) write(ctx context.Context, obj *unstructured.Unstructured, create bool) error {
	var err error
	if create {
		err = r.writer.Create(ctx, obj)
	} else {
		err = r.writer.Update(ctx, obj)
	}
	if err != nil {
		return fmt.Errorf("writing Mapping %s: %w", obj.GetName(), err)
	}
	return nil
}

func weightOf(obj *unstructured.Unstructured) int64 {
	w, _, _ := unstructured.NestedInt64(obj.Object, "spec", "weight")
	return w
}
