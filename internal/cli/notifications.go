package cli

import (
	"fmt"
	"strings"

	"github.com/argoproj/notifications-engine/pkg/services"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/notify"
)

// newNotificationsCommand tries a notification configuration without a
// release, as Argo's `kubectl argo rollouts notifications`.
func newNotificationsCommand(e *env) *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "notifications",
		Short: "Try the notification configuration (ramp-notification-configmap) on a rollout",
	}
	cmd.PersistentFlags().StringVar(&namespace, "config-namespace", analysis.DefaultNamespace, "namespace of ramp-notification-configmap and ramp-notification-secret (the controller's)")
	load := func(cmd *cobra.Command, rollout string) (*notify.Engine, map[string]any, error) {
		ro, err := e.rollout(cmd.Context(), rollout)
		if err != nil {
			return nil, nil, err
		}
		cl, err := e.client()
		if err != nil {
			return nil, nil, err
		}
		eng, err := notify.Load(cmd.Context(), client.Reader(cl), namespace)
		if err != nil {
			return nil, nil, err
		}
		obj, err := notify.Object(ro)
		return eng, obj, err
	}

	trigger := &cobra.Command{Use: "trigger", Short: "Triggers: run one on a rollout"}
	trigger.AddCommand(&cobra.Command{
		Use:   "run TRIGGER ROLLOUT",
		Short: "Judge a trigger's conditions on a rollout and say what it would send to whom",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, obj, err := load(cmd, args[1])
			if err != nil {
				return err
			}
			conditions, err := eng.RunTrigger(args[0], obj)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for i, c := range conditions {
				when := c.When
				if when == "" {
					when = "(none: fires on every " + args[0] + " event)"
				}
				fmt.Fprintf(out, "condition %d: when %s: triggered %v; sends %s\n", i, when, c.Triggered, strings.Join(c.Send, ", "))
			}
			var to []string
			for _, d := range eng.Destinations(args[0], obj) {
				to = append(to, d.Service+":"+d.Recipient)
			}
			if len(to) == 0 {
				to = []string{"nobody (no subscription)"}
			}
			fmt.Fprintf(out, "subscribers: %s\n", strings.Join(to, ", "))
			return nil
		},
	})

	var recipients []string
	template := &cobra.Command{Use: "template", Short: "Templates: send one about a rollout"}
	notifyCmd := &cobra.Command{
		Use:   "notify TEMPLATE ROLLOUT",
		Short: "Render a template for a rollout and send it to --recipient SERVICE:RECIPIENT",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, obj, err := load(cmd, args[1])
			if err != nil {
				return err
			}
			var dests []services.Destination
			for _, r := range recipients {
				service, recipient, _ := strings.Cut(r, ":")
				dests = append(dests, services.Destination{Service: service, Recipient: recipient})
			}
			if len(dests) == 0 {
				return fmt.Errorf("say whom to send to: --recipient SERVICE:RECIPIENT (for example slack:deploys, or hook: for a webhook)")
			}
			for _, d := range dests {
				if err := eng.Send(obj, args[0], d); err != nil {
					return fmt.Errorf("sending %s to %s:%s: %w", args[0], d.Service, d.Recipient, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "sent %s about %s to %s:%s\n", args[0], args[1], d.Service, d.Recipient)
			}
			return nil
		},
	}
	notifyCmd.Flags().StringArrayVar(&recipients, "recipient", nil, "SERVICE:RECIPIENT to send to (repeat for several)")
	template.AddCommand(notifyCmd)
	cmd.AddCommand(trigger, template)
	return cmd
}
