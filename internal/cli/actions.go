package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/rampdev/ramp/internal/operate"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The actions are internal/operate's (the dashboard runs the same ones):
// a merge patch guarded by the resourceVersion read, refused once the
// rollout has moved on from the state it was decided on; each says in one
// line what it did.

// do applies a to the rollout name in the flags' namespace and prints what
// it did.
func (e *env) do(ctx context.Context, name string, a operate.Action) error {
	cl, ns, err := e.clientIn()
	if err != nil {
		return err
	}
	msg, err := operate.Do(ctx, cl, client.ObjectKey{Namespace: ns, Name: name}, a, nil)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.out, msg)
	return err
}

// editTemplate applies edit to the rollout's pod template (or its
// workloadRef's) and prints what it did.
func (e *env) editTemplate(ctx context.Context, name string, edit operate.Edit) error {
	cl, ns, err := e.clientIn()
	if err != nil {
		return err
	}
	msg, err := operate.EditTemplate(ctx, cl, client.ObjectKey{Namespace: ns, Name: name}, nil, edit)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.out, msg)
	return err
}

// actionCommand is a command running the action its flags make.
func actionCommand(e *env, use, short string, action func() operate.Action) *cobra.Command {
	return &cobra.Command{
		Use:               use + " NAME",
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: e.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.do(cmd.Context(), args[0], action())
		},
	}
}

func newPromoteCommand(e *env) *cobra.Command {
	var o operate.PromoteOptions
	cmd := actionCommand(e, "promote", "End the current pause or step (--full: skip every remaining step, pause and analysis)", func() operate.Action { return operate.Promote(o) })
	cmd.Flags().BoolVar(&o.Full, "full", false, "skip every remaining step, pause and analysis")
	cmd.Flags().BoolVarP(&o.SkipCurrentStep, "skip-current-step", "c", false, "canary: go to the next step, whatever the current one waits for (Argo's flag)")
	cmd.Flags().BoolVarP(&o.SkipAllSteps, "skip-all-steps", "a", false, "canary: go past the last step (Argo's flag; unlike --full, a running background analysis still counts)")
	return cmd
}

func newAbortCommand(e *env) *cobra.Command {
	return actionCommand(e, "abort", "Send all traffic back to the stable version and scale the new one down", operate.Abort)
}

func newRetryCommand(e *env) *cobra.Command {
	cmd := actionCommand(e, "retry", "Start an aborted update over (also: retry rollout NAME, as Argo's plugin)", operate.Retry)
	cmd.Use = "retry [rollout] NAME"
	sub := actionCommand(e, "rollout", "Start an aborted update over", operate.Retry)
	sub.Aliases = []string{"rollouts", "ro"}
	cmd.AddCommand(sub, newRetryExperimentCommand(e))
	return cmd
}

func newPauseCommand(e *env) *cobra.Command {
	return actionCommand(e, "pause", "Hold the rollout where it is", operate.Pause)
}

func newResumeCommand(e *env) *cobra.Command {
	return actionCommand(e, "resume", "Lift a pause made with `ramp pause`", operate.Resume)
}

func newRestartCommand(e *env) *cobra.Command {
	var in time.Duration
	cmd := actionCommand(e, "restart", "Replace every pod of the rollout, a few at a time (--in: later)", func() operate.Action { return operate.Restart(e.now(), in) })
	cmd.Flags().DurationVarP(&in, "in", "i", 0, "restart after this long (e.g. 1h)")
	return cmd
}

func newUndoCommand(e *env) *cobra.Command {
	var to int
	cmd := &cobra.Command{
		Use:               "undo NAME",
		Short:             "Roll back to the previous revision (--to-revision: to that one)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: e.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := e.info(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.editTemplate(cmd.Context(), args[0], operate.Undo(info, to))
		},
	}
	cmd.Flags().IntVar(&to, "to-revision", 0, "the revision to go back to (default: the one before the current)")
	return cmd
}

func newSetCommand(e *env) *cobra.Command {
	set := &cobra.Command{Use: "set", Short: "Change a rollout's template"}
	image := &cobra.Command{
		Use:               "image NAME CONTAINER=IMAGE...",
		Short:             "Set container images, which starts an update",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: e.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.editTemplate(cmd.Context(), args[0], operate.SetImages(args[1:]))
		},
	}
	set.AddCommand(image)
	return set
}

func newTerminateCommand(e *env) *cobra.Command {
	term := &cobra.Command{Use: "terminate", Short: "Stop an AnalysisRun or an Experiment"}
	run := &cobra.Command{
		Use:   "analysisrun NAME",
		Short: "Stop an AnalysisRun: it takes no more measurements and ends Successful if nothing failed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := e.analysisRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			if r.Status.Phase.Completed() {
				return fmt.Errorf("analysisrun %q has already finished (%s)", r.Name, r.Status.Phase)
			}
			patch := client.MergeFrom(r.DeepCopy())
			r.Spec.Terminate = true
			if err := cl.Patch(cmd.Context(), r, patch); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.out, "analysisrun %q terminated\n", r.Name)
			return err
		},
	}
	term.AddCommand(run, newTerminateExperimentCommand(e))
	return term
}
