package trafficrouting

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// OwnedBy reports whether obj (a canary Ingress, Mapping or header-route
// object a router created) is controlled by the rollout ro. A router never
// takes over an object of that name that another owner controls.
func OwnedBy(obj metav1.Object, ro *v1alpha1.Rollout) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.Kind == "Rollout" && ref.Name == ro.Name
}
