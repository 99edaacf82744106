package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampdev/ramp/internal/version"
)

// NewRootCommand returns the ramp command. Invoked as kubectl-ramp, it
// presents itself as `kubectl ramp`.
func NewRootCommand(argv0 string) *cobra.Command {
	root := &cobra.Command{
		Use:           "ramp",
		Short:         "Watch and steer Ramp progressive-delivery rollouts",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	if strings.HasPrefix(filepath.Base(argv0), "kubectl-") {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ramp"}
	}
	root.AddCommand(newVersionCommand())
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
