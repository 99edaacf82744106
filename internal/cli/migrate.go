package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rampdev/ramp/internal/migrate"
)

func newMigrateCommand(e *env) *cobra.Command {
	var opts migrate.Options
	var all, dryRun, undo bool
	cmd := &cobra.Command{
		Use:   "migrate [-n NS | -A] [--rollout NAME] [--dry-run] [--force] [--undo]",
		Short: "Move running Argo Rollouts to Ramp without restarting a pod or moving traffic (and back with --undo)",
		Long: `Move running argoproj.io/v1alpha1 Rollouts, AnalysisTemplates and
ClusterAnalysisTemplates to ramp.dev/v1alpha1. Each Ramp Rollout adopts its Argo
Rollout's ReplicaSets (same names and pods: Ramp computes Argo's pod-template hash)
and Ingresses, takes over its status (stable and current hashes, step, weights), and
marks its Services as Ramp's without touching their selectors. The Argo objects stay,
so --undo can hand the ReplicaSets back.

Order: stop Argo Rollouts' controller (scale its Deployment to 0), run ramp migrate,
then start Ramp's controller. ramp migrate refuses while a Lease named
argo-rollouts-controller-lock (Argo's leader lock) is held in any namespace.

It refuses a Rollout that is mid-update (--force moves it as it stands: Ramp
continues from the current step), and one that uses what Ramp does not run (a
router, step or metric provider), saying why. --dry-run prints the plan and changes
nothing. A migration cut short is resumed by running it again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !all {
				ns, err := e.namespace()
				if err != nil {
					return err
				}
				opts.Namespace = ns
			}
			if all && opts.Rollout != "" {
				return fmt.Errorf("--rollout names a Rollout of one namespace: use -n, not -A")
			}
			return e.migrate(cmd.Context(), opts, dryRun, undo)
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "move the Rollouts of every namespace, and every ClusterAnalysisTemplate")
	cmd.Flags().StringVar(&opts.Rollout, "rollout", "", "move only this Rollout (and the templates it uses)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan (what is moved, what is refused and why) and change nothing")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "move a Rollout that is mid-update as it stands (Ramp continues from its current step); with --undo, hand back a Rollout Ramp has moved to another version")
	cmd.Flags().BoolVar(&undo, "undo", false, "hand the ReplicaSets of migrated Rollouts back to their Argo Rollouts and delete the Ramp Rollouts (stop Ramp's controller first, start Argo's after)")
	return cmd
}

func (e *env) migrate(ctx context.Context, opts migrate.Options, dryRun, undo bool) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	m := &migrate.Migrator{Client: c, Clock: e.clock}
	verb := "move"
	var p *migrate.Plan
	if undo {
		verb = "hand back"
		p, err = m.PlanUndo(ctx, opts)
	} else {
		p, err = m.Plan(ctx, opts)
	}
	if err != nil {
		return err
	}
	if dryRun {
		fmt.Fprintln(e.out, "Plan (dry run: nothing is changed):")
		p.Print(e.out, verb)
		return nil
	}
	p.Print(e.out, verb)
	report := func(mv *migrate.RolloutMove) {
		done := "moved to Ramp"
		if undo {
			done = "handed back to Argo Rollouts"
		}
		fmt.Fprintf(e.out, "Rollout %s/%s: %s\n", mv.Namespace, mv.Name, done)
	}
	if undo {
		err = m.UndoMigration(ctx, p, report)
	} else {
		err = m.Migrate(ctx, p, report)
	}
	if err != nil {
		return err
	}
	if n := p.Refused(); n > 0 {
		return fmt.Errorf("%d object(s) refused (see above); the others were done", n)
	}
	return nil
}
