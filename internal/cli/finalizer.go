package cli

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/operate"
)

const (
	routingFinalizer  = v1alpha1.RoutingFinalizer
	routingAnnotation = v1alpha1.RoutingAnnotation
)

// newRemoveFinalizerCommand is the way out of a deleted Rollout that the
// controller will never let go (it was uninstalled, or its router can never
// be reached): the finalizer goes without the routers being reset, and the
// command says what was left for the user to set back by hand.
func newRemoveFinalizerCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-finalizer NAME",
		Short: "Let a deleted rollout go without resetting its traffic routers (when the controller cannot)",
		Long: "A Rollout with traffic routing carries the finalizer " + routingFinalizer + ": when it is deleted, the\n" +
			"controller sends all traffic back to the stable Service before letting it go. If the controller is\n" +
			"not running (uninstalled) or can never reach the router, the deletion waits for ever. This command\n" +
			"removes the finalizer of a rollout that is being deleted, without resetting anything: the routes\n" +
			"keep the weights they have, which it prints.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: e.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, name := cmd.Context(), args[0]
			cl, err := e.client()
			if err != nil {
				return err
			}
			ro, err := e.rollout(ctx, name)
			if err != nil {
				return err
			}
			switch {
			case !slices.Contains(ro.Finalizers, routingFinalizer):
				return fmt.Errorf("rollout %q has no %s finalizer: nothing to remove", name, routingFinalizer)
			case ro.DeletionTimestamp == nil:
				return fmt.Errorf("rollout %q is not being deleted: the controller keeps its finalizer while it routes traffic; delete the rollout first, and remove the finalizer only if the controller cannot", name)
			}
			before := ro.DeepCopy()
			controllerutil.RemoveFinalizer(ro, routingFinalizer)
			delete(ro.Annotations, routingAnnotation)
			if err := cl.Patch(ctx, ro, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
				return operate.ExplainWrite(err, name)
			}
			_, err = fmt.Fprintf(e.out, "rollout %q released: its traffic routers were not reset (%s)\n", name, leftWeights(before))
			return err
		},
	}
}

// leftWeights says where the routers were last told to send traffic.
func leftWeights(ro *v1alpha1.Rollout) string {
	w := ro.Status.Canary.Weights
	if w == nil || w.Canary.Weight == 0 {
		return "the last weight recorded sends everything to the stable Service"
	}
	return fmt.Sprintf("the last weight recorded sends %d to Service %s and %d to Service %s: set the routes back to the stable Service by hand",
		w.Canary.Weight, w.Canary.ServiceName, w.Stable.Weight, w.Stable.ServiceName)
}
