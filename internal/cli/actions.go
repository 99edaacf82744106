package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// The actions patch the Rollout as docs/actions.md says, with a merge
// patch guarded by the resourceVersion read (so an action decided on a
// state that changed meanwhile fails instead of doing the wrong thing),
// and say in one line what they did.

// updating reports whether ro has an update in progress.
func updating(ro *v1alpha1.Rollout) bool {
	return ro.Status.CurrentPodHash != "" && ro.Status.StableRS != "" && ro.Status.CurrentPodHash != ro.Status.StableRS
}

func paused(ro *v1alpha1.Rollout) bool {
	return ro.Spec.Paused || len(ro.Status.PauseConditions) > 0
}

// act reads the rollout, lets change edit spec and status, and patches
// what changed: spec through the object, status through its subresource.
func (e *env) act(ctx context.Context, name string, change func(ro *v1alpha1.Rollout) (string, error)) error {
	return e.actOn(ctx, name, sameRevision, change)
}

// actOn is act with the test of "where the user saw it": sameRevision for
// most actions, sameStep for those given for one step (promote).
func (e *env) actOn(ctx context.Context, name string, same func(a, b actionState) bool, change func(ro *v1alpha1.Rollout) (string, error)) error {
	cl, err := e.client()
	if err != nil {
		return err
	}
	var msg string
	var seen *actionState
	// The controller writes the status often: on a conflict the action is
	// decided again, but only while the rollout is where the user saw it
	// (same revision, step, pause and abort); once it has moved on, the
	// action is refused rather than applied to a state nobody saw.
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		ro, err := e.rollout(ctx, name)
		if err != nil {
			return err
		}
		now := stateOf(ro)
		if seen == nil {
			seen = &now
		} else if !same(*seen, now) {
			return &movedOnError{name: name, from: *seen, to: now}
		}
		before := ro.DeepCopy()
		if msg, err = change(ro); err != nil {
			return err
		}
		lock := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
		statusChanged := !equalJSON(before.Status, ro.Status)
		if !equalJSON(before.Spec, ro.Spec) {
			status := ro.Status
			if err := cl.Patch(ctx, ro, lock); err != nil {
				return err
			}
			if statusChanged { // the patch returned the stored status
				before = ro.DeepCopy()
				ro.Status = status
				lock = client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
			}
		}
		if statusChanged {
			return cl.Status().Patch(ctx, ro, lock)
		}
		return nil
	})
	if err != nil {
		return explainWrite(err, name)
	}
	_, err = fmt.Fprintln(e.out, msg)
	return err
}

// actionState is what an action is decided on: the rollout's revision, step,
// pause and abort.
type actionState struct {
	generation         int64
	current, stable    string
	step               int32
	pauses             string
	abort, promoteFull bool
}

func stateOf(ro *v1alpha1.Rollout) actionState {
	var pauses []string
	for _, c := range ro.Status.PauseConditions {
		pauses = append(pauses, string(c.Reason))
	}
	return actionState{generation: ro.Generation, current: ro.Status.CurrentPodHash, stable: ro.Status.StableRS,
		step: ptr.Deref(ro.Status.CurrentStepIndex, -1), pauses: strings.Join(pauses, ","), abort: ro.Status.Abort, promoteFull: ro.Status.PromoteFull}
}

// sameRevision: the same spec, revision and abort; an abort or a promote
// --full given for one revision never applies to the next.
func sameRevision(a, b actionState) bool {
	return a.generation == b.generation && a.current == b.current && a.stable == b.stable && a.abort == b.abort
}

// sameStep: sameRevision, at the same step and pause.
func sameStep(a, b actionState) bool {
	return sameRevision(a, b) && a.step == b.step && a.pauses == b.pauses && a.promoteFull == b.promoteFull
}

// movedOnError is an action refused because the rollout moved on between
// the read it was decided on and its write.
type movedOnError struct {
	name     string
	from, to actionState
}

func (e *movedOnError) Error() string {
	what := "its state"
	switch {
	case e.from.generation != e.to.generation:
		what = "its spec"
	case e.from.current != e.to.current:
		what = "its revision"
	case e.from.step != e.to.step:
		what = fmt.Sprintf("step %d to step %d", e.from.step, e.to.step)
	case e.from.pauses != e.to.pauses:
		what = "its pause"
	case e.from.abort != e.to.abort:
		what = "its abort"
	}
	return fmt.Sprintf("rollout %q moved on (%s) while the action was being written: nothing was done; look again (ramp get rollout %s) and run it again", e.name, what, e.name)
}

func explainWrite(err error, name string) error {
	var moved *movedOnError
	switch {
	case errors.As(err, &moved):
		return err
	case strings.Contains(err.Error(), "the object has been modified"):
		return fmt.Errorf("rollout %q changed while the action was decided; run it again", name)
	case isForbidden(err):
		return fmt.Errorf("not allowed to change rollout %q: %v", name, err)
	}
	return err
}

func actionCommand(e *env, use, short string, change func(cmd *cobra.Command, ro *v1alpha1.Rollout) (string, error)) *cobra.Command {
	return stepCommand(e, use, short, func() bool { return false }, change)
}

// stepCommand is an action that, when stepBound says so, is given for the
// step the user saw (see actOn).
func stepCommand(e *env, use, short string, stepBound func() bool, change func(cmd *cobra.Command, ro *v1alpha1.Rollout) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use:               use + " NAME",
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: e.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			same := sameRevision
			if stepBound() {
				same = sameStep
			}
			return e.actOn(cmd.Context(), args[0], same, func(ro *v1alpha1.Rollout) (string, error) { return change(cmd, ro) })
		},
	}
}

func newPromoteCommand(e *env) *cobra.Command {
	var full, skipCurrent, skipAll bool
	cmd := stepCommand(e, "promote", "End the current pause or step (--full: skip every remaining step, pause and analysis)", func() bool { return !full && !skipAll }, func(_ *cobra.Command, ro *v1alpha1.Rollout) (string, error) {
		if skipCurrent || skipAll {
			if err := skippable(ro, full, skipCurrent, skipAll); err != nil {
				return "", err
			}
		}
		if !updating(ro) && !paused(ro) {
			return "", fmt.Errorf("rollout %q is %s with no update in progress: nothing to promote", ro.Name, phase(ro))
		}
		if ro.Status.Abort {
			return "", fmt.Errorf("rollout %q is aborted: retry it first (ramp retry %s)", ro.Name, ro.Name)
		}
		if full {
			ro.Status.PromoteFull = true
			ro.Spec.Paused = false
			ro.Status.PauseConditions = nil
			return fmt.Sprintf("rollout %q fully promoted", ro.Name), nil
		}
		c := ro.Spec.Strategy.Canary
		if skipAll {
			// Argo's --skip-all-steps: past the last step; the analyses
			// still running keep their say, unlike --full.
			ro.Spec.Paused = false
			ro.Status.PauseConditions = nil
			ro.Status.CurrentStepIndex = ptr.To(int32(len(c.Steps)))
			return fmt.Sprintf("rollout %q promoted: every remaining step skipped", ro.Name), nil
		}
		if paused(ro) && !skipCurrent {
			ro.Spec.Paused = false
			ro.Status.PauseConditions = nil
			return fmt.Sprintf("rollout %q promoted: the pause ends", ro.Name), nil
		}
		if c == nil {
			return "", fmt.Errorf("rollout %q is not paused: nothing to promote (use --full to skip the analysis and switch now)", ro.Name)
		}
		idx := ptr.Deref(ro.Status.CurrentStepIndex, 0)
		if int(idx) >= len(c.Steps) {
			return "", fmt.Errorf("rollout %q has finished its steps: nothing to promote", ro.Name)
		}
		ro.Spec.Paused = false
		ro.Status.PauseConditions = nil
		ro.Status.CurrentStepIndex = ptr.To(idx + 1)
		return fmt.Sprintf("rollout %q promoted: step %d/%d skipped", ro.Name, idx, len(c.Steps)), nil
	})
	cmd.Flags().BoolVar(&full, "full", false, "skip every remaining step, pause and analysis")
	cmd.Flags().BoolVarP(&skipCurrent, "skip-current-step", "c", false, "canary: go to the next step, whatever the current one waits for (Argo's flag)")
	cmd.Flags().BoolVarP(&skipAll, "skip-all-steps", "a", false, "canary: go past the last step (Argo's flag; unlike --full, a running background analysis still counts)")
	return cmd
}

// skippable refuses the step-skipping flags where Argo's plugin does: on
// blue/green, on a canary without steps, and together with one another.
func skippable(ro *v1alpha1.Rollout, full, skipCurrent, skipAll bool) error {
	switch {
	case full || (skipCurrent && skipAll):
		return errors.New("--full, --skip-current-step and --skip-all-steps exclude one another")
	case ro.Spec.Strategy.Canary == nil:
		return fmt.Errorf("rollout %q is blue/green: --skip-current-step and --skip-all-steps are for canary steps", ro.Name)
	case len(ro.Spec.Strategy.Canary.Steps) == 0:
		return fmt.Errorf("rollout %q is a canary without steps: there is no step to skip", ro.Name)
	}
	return nil
}

func newAbortCommand(e *env) *cobra.Command {
	return actionCommand(e, "abort", "Send all traffic back to the stable version and scale the new one down", func(_ *cobra.Command, ro *v1alpha1.Rollout) (string, error) {
		switch {
		case ro.Status.Abort:
			return "", fmt.Errorf("rollout %q is already aborted", ro.Name)
		case !updating(ro):
			return "", fmt.Errorf("rollout %q is %s with no update in progress: nothing to abort", ro.Name, phase(ro))
		}
		ro.Status.Abort = true
		return fmt.Sprintf("rollout %q aborted", ro.Name), nil
	})
}

func newRetryCommand(e *env) *cobra.Command {
	retry := func(_ *cobra.Command, ro *v1alpha1.Rollout) (string, error) {
		if !ro.Status.Abort {
			return "", fmt.Errorf("rollout %q is not aborted: nothing to retry", ro.Name)
		}
		ro.Status.Abort = false
		return fmt.Sprintf("rollout %q retried", ro.Name), nil
	}
	cmd := actionCommand(e, "retry", "Start an aborted update over (also: retry rollout NAME, as Argo's plugin)", retry)
	cmd.Use = "retry [rollout] NAME"
	sub := actionCommand(e, "rollout", "Start an aborted update over", retry)
	sub.Aliases = []string{"rollouts", "ro"}
	cmd.AddCommand(sub, newRetryExperimentCommand(e))
	return cmd
}

func newPauseCommand(e *env) *cobra.Command {
	return actionCommand(e, "pause", "Hold the rollout where it is", func(_ *cobra.Command, ro *v1alpha1.Rollout) (string, error) {
		if ro.Spec.Paused {
			return "", fmt.Errorf("rollout %q is already paused", ro.Name)
		}
		ro.Spec.Paused = true
		return fmt.Sprintf("rollout %q paused", ro.Name), nil
	})
}

func newResumeCommand(e *env) *cobra.Command {
	return actionCommand(e, "resume", "Lift a pause made with `ramp pause`", func(_ *cobra.Command, ro *v1alpha1.Rollout) (string, error) {
		if !ro.Spec.Paused {
			return "", fmt.Errorf("rollout %q is not paused by `ramp pause` (a step's pause ends with `ramp promote`)", ro.Name)
		}
		ro.Spec.Paused = false
		return fmt.Sprintf("rollout %q resumed", ro.Name), nil
	})
}

func newRestartCommand(e *env) *cobra.Command {
	var in time.Duration
	cmd := actionCommand(e, "restart", "Replace every pod of the rollout, a few at a time (--in: later)", func(_ *cobra.Command, ro *v1alpha1.Rollout) (string, error) {
		if in < 0 {
			return "", fmt.Errorf("--in %s: must not be negative", in)
		}
		at := metav1.NewTime(e.now().Add(in).Truncate(time.Second))
		ro.Spec.RestartAt = &at
		if in == 0 {
			return fmt.Sprintf("rollout %q restarts now", ro.Name), nil
		}
		return fmt.Sprintf("rollout %q restarts at %s", ro.Name, at.UTC().Format(time.RFC3339)), nil
	})
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
			return e.editTemplate(cmd.Context(), args[0], func(ro *v1alpha1.Rollout, tpl *corev1.PodTemplateSpec) (string, error) {
				rs, n, err := undoTarget(info, to)
				if err != nil {
					return "", err
				}
				back := rs.Spec.Template.DeepCopy()
				delete(back.Labels, v1alpha1.DefaultRolloutUniqueLabelKey)
				*tpl = *back
				return fmt.Sprintf("rollout %q rolled back to revision %d", ro.Name, n), nil
			})
		},
	}
	cmd.Flags().IntVar(&to, "to-revision", 0, "the revision to go back to (default: the one before the current)")
	return cmd
}

// undoTarget is the ReplicaSet of revision to, or of the newest revision
// before the current one.
func undoTarget(info *rolloutInfo, to int) (*appsv1.ReplicaSet, int, error) {
	current := ""
	if info.ro.Status.CurrentPodHash != "" {
		current = info.ro.Status.CurrentPodHash
	}
	var known []string
	for _, rev := range info.revisions { // newest first
		known = append(known, strconv.Itoa(rev.number))
		switch {
		case to == 0 && rev.hash != current:
			return rev.rs, rev.number, nil
		case to != 0 && rev.number == to:
			if rev.hash == current {
				return nil, 0, fmt.Errorf("revision %d is the current one", to)
			}
			return rev.rs, rev.number, nil
		}
	}
	if to != 0 {
		return nil, 0, fmt.Errorf("rollout %q has no revision %d (it has %s)", info.ro.Name, to, strings.Join(known, ", "))
	}
	return nil, 0, fmt.Errorf("rollout %q has no earlier revision to go back to", info.ro.Name)
}

func newSetCommand(e *env) *cobra.Command {
	set := &cobra.Command{Use: "set", Short: "Change a rollout's template"}
	image := &cobra.Command{
		Use:               "image NAME CONTAINER=IMAGE...",
		Short:             "Set container images, which starts an update",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: e.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.editTemplate(cmd.Context(), args[0], func(ro *v1alpha1.Rollout, tpl *corev1.PodTemplateSpec) (string, error) {
				var done []string
				for _, kv := range args[1:] {
					name, img, ok := strings.Cut(kv, "=")
					if !ok || name == "" || img == "" {
						return "", fmt.Errorf("%q: expected CONTAINER=IMAGE", kv)
					}
					if !setImage(&tpl.Spec, name, img) {
						return "", fmt.Errorf("rollout %q has no container %q", ro.Name, name)
					}
					done = append(done, name+"="+img)
				}
				return fmt.Sprintf("rollout %q image updated: %s", ro.Name, strings.Join(done, " ")), nil
			})
		},
	}
	set.AddCommand(image)
	return set
}

func setImage(spec *corev1.PodSpec, name, image string) bool {
	found := false
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			if list[i].Name == name || name == "*" {
				list[i].Image = image
				found = true
			}
		}
	}
	return found
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
