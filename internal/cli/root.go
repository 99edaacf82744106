package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/utils/clock"

	"github.com/rampdev/ramp/internal/version"
)

// NewRootCommand returns the ramp command. Invoked as kubectl-ramp, it
// presents itself as `kubectl ramp`.
func NewRootCommand(argv0 string) *cobra.Command {
	return New(argv0, Options{})
}

// New is the ramp command built with opts.
func New(argv0 string, opts Options) *cobra.Command {
	e := &env{flags: genericclioptions.NewConfigFlags(true), out: opts.Out, errOut: opts.Err, clock: opts.Clock, getter: opts.Config, wrap: opts.WrapTransport}
	if e.out == nil {
		e.out = os.Stdout
	}
	if e.errOut == nil {
		e.errOut = os.Stderr
	}
	if e.clock == nil {
		e.clock = clock.RealClock{}
	}
	if e.getter == nil {
		e.getter = e.flags
	}
	root := &cobra.Command{
		Use:           "ramp",
		Short:         "Watch and steer Ramp progressive-delivery rollouts",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(e.out)
	root.SetErr(e.errOut)
	if strings.HasPrefix(filepath.Base(argv0), "kubectl-") {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ramp"}
	}
	e.flags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().BoolVar(&e.noColor, "no-color", false, "plain output: no colour, no symbols (also when the output is not a terminal, or NO_COLOR is set)")
	root.AddCommand(
		newVersionCommand(),
		newGetCommand(e),
		newListCommand(e),
		newStatusCommand(e),
		newPromoteCommand(e),
		newAbortCommand(e),
		newRetryCommand(e),
		newPauseCommand(e),
		newResumeCommand(e),
		newUndoCommand(e),
		newRestartCommand(e),
		newSetCommand(e),
		newTerminateCommand(e),
		newCreateCommand(e),
		newLintCommand(e),
		newConvertCommand(e),
		newMigrateCommand(e),
		newRemoveFinalizerCommand(e),
		newNotificationsCommand(e),
		newDashboardCommand(e),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	var short bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of this ramp binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if short {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), version.Version)
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "ramp %s\n", version.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&short, "short", false, "print only the version number")
	return cmd
}
