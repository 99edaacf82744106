package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/operate"
)

// ErrDegraded is returned (exit code 1) when `status` ends on a Degraded
// rollout; ErrTimeout when --timeout passes first.
var (
	ErrDegraded = errors.New("degraded")
	ErrTimeout  = errors.New("timed out")
)

func newStatusCommand(e *env) *cobra.Command {
	var timeout time.Duration
	var until, output string
	watch := true
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Wait for a rollout to finish: exit 0 when Healthy, 1 when Degraded or at --timeout (--until paused: when it reaches a pause)",
		Long: `Wait for a rollout to finish, printing each change of phase and message.

Exit code 0 when the rollout is Healthy (or, with --until paused, Paused),
1 when it is Degraded or --timeout passes first.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: e.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			want := v1alpha1.RolloutPhaseHealthy
			switch until {
			case "", "healthy":
			case "paused":
				want = v1alpha1.RolloutPhasePaused
			default:
				return fmt.Errorf("--until %q: must be healthy or paused", until)
			}
			ctx := cmd.Context()
			if !watch {
				// Argo's `status --watch=false`: the status as it is now.
				ro, err := e.rollout(ctx, args[0])
				if err != nil {
					return err
				}
				if output != "" {
					return printObject(e.out, output, ro)
				}
				_, err = fmt.Fprintln(e.out, statusLine(ro))
				return err
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			ro, err := e.waitFor(ctx, args[0], want, output == "")
			if output != "" && ro != nil {
				if perr := printObject(e.out, output, ro); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", true, "wait as above; --watch=false prints the status as it is and exits 0")
	cmd.Flags().DurationVarP(&timeout, "timeout", "t", 0, "give up after this long (default: wait for ever)")
	cmd.Flags().StringVar(&until, "until", "healthy", "healthy, or paused: return as soon as the rollout waits at a pause (an approval gate)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "json or yaml: print the Rollout when done, instead of the progress")
	return cmd
}

// statusLine is the phase, and the message when there is one.
func statusLine(ro *v1alpha1.Rollout) string {
	if ro.Status.Message == "" {
		return operate.Phase(ro)
	}
	return operate.Phase(ro) + ": " + ro.Status.Message
}

// settled says whether ro, observed by the controller at its generation,
// is in phase want (or Degraded).
func settled(ro *v1alpha1.Rollout, want v1alpha1.RolloutPhase) (bool, error) {
	if ro.Status.ObservedGeneration != fmt.Sprint(ro.Generation) {
		return false, nil
	}
	switch ro.Status.Phase {
	case want:
		if want == v1alpha1.RolloutPhaseHealthy && operate.Updating(ro) {
			return false, nil
		}
		return true, nil
	case v1alpha1.RolloutPhaseDegraded:
		if !ro.Status.Abort && strings.HasPrefix(ro.Status.Message, v1alpha1.ReasonRolloutAborted) {
			// Aborted, then retried (`ramp retry` clears the abort):
			// the controller has not acted on the retry yet.
			return false, nil
		}
		return true, fmt.Errorf("rollout %q is %w: %s", ro.Name, ErrDegraded, ro.Status.Message)
	}
	return false, nil
}

// waitFor watches the rollout until settled, printing each new phase and
// message when progress is set.
func (e *env) waitFor(ctx context.Context, name string, want v1alpha1.RolloutPhase, progress bool) (*v1alpha1.Rollout, error) {
	cl, ns, err := e.clientIn()
	if err != nil {
		return nil, err
	}
	ro, err := e.rollout(ctx, name)
	if err != nil {
		return nil, err
	}
	last := ""
	report := func(ro *v1alpha1.Rollout) (bool, error) {
		if line := statusLine(ro); progress && line != last {
			last = line
			fmt.Fprintln(e.out, line)
		}
		return settled(ro, want)
	}
	if done, err := report(ro); done {
		return ro, err
	}
	for {
		w, err := cl.Watch(ctx, &v1alpha1.RolloutList{}, client.InNamespace(ns),
			client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)},
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: ro.ResourceVersion}})
		if err != nil {
			if ctx.Err() != nil {
				return ro, fmt.Errorf("rollout %q is still %s: %w", name, operate.Phase(ro), ErrTimeout)
			}
			return ro, err
		}
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Deleted:
				w.Stop()
				return ro, fmt.Errorf("rollout %q was deleted", name)
			case watch.Added, watch.Modified:
				if got, ok := ev.Object.(*v1alpha1.Rollout); ok {
					ro = got
					if done, err := report(ro); done {
						w.Stop()
						return ro, err
					}
				}
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return ro, fmt.Errorf("rollout %q is still %s: %w", name, operate.Phase(ro), ErrTimeout)
		}
		// The watch ended (server timeout): read again and carry on.
		if ro, err = e.rollout(ctx, name); err != nil {
			return nil, err
		}
		if done, err := report(ro); done {
			return ro, err
		}
	}
}
