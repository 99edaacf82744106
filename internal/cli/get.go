package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/canary"
	"github.com/rampdev/ramp/internal/operate"
)

func newGetCommand(e *env) *cobra.Command {
	get := &cobra.Command{Use: "get", Short: "Show a rollout, an AnalysisRun or an Experiment"}
	var output string
	var watch bool
	var timeoutSeconds int
	ro := &cobra.Command{
		Use:               "rollout NAME",
		Aliases:           []string{"rollouts", "ro"},
		Short:             "Show a rollout: status, weights, images, and its revisions, ReplicaSets, pods, AnalysisRuns and Jobs",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: e.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch {
				ctx, cancel := watchContext(cmd.Context(), timeoutSeconds)
				defer cancel()
				return e.watchRollout(ctx, args[0])
			}
			info, err := e.info(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if output != "" {
				return printObject(e.out, output, info.Rollout)
			}
			renderRollout(e.out, info, e.now(), style{color: e.color()})
			return nil
		},
	}
	ro.Flags().BoolVarP(&watch, "watch", "w", false, "redraw on every change until interrupted")
	ro.Flags().IntVar(&timeoutSeconds, "timeout-seconds", 0, "with --watch: stop watching after this many seconds (0: never)")
	ro.Flags().StringVarP(&output, "output", "o", "", "json or yaml: the Rollout object")
	var runOutput string
	run := &cobra.Command{
		Use:     "analysisrun NAME",
		Aliases: []string{"analysisruns", "ar"},
		Short:   "Show an AnalysisRun: each metric with its measurements, values and phase",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := e.analysisRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if runOutput != "" {
				return printObject(e.out, runOutput, r)
			}
			renderRun(e.out, r, e.now(), style{color: e.color()})
			return nil
		},
	}
	run.Flags().StringVarP(&runOutput, "output", "o", "", "json or yaml: the AnalysisRun object")
	get.AddCommand(ro, run, newGetExperimentCommand(e))
	return get
}

// info loads a rollout and what belongs to it.
func (e *env) info(ctx context.Context, name string) (*operate.Info, error) {
	ro, err := e.rollout(ctx, name)
	if err != nil {
		return nil, err
	}
	cl, err := e.client()
	if err != nil {
		return nil, err
	}
	return operate.Load(ctx, cl, ro)
}

// watchRollout redraws the rollout when it changes, and every two seconds
// for its pods' and runs' ages, until ctx ends.
func (e *env) watchRollout(ctx context.Context, name string) error {
	if _, err := e.rollout(ctx, name); err != nil {
		return err
	}
	return e.redraw(ctx, &v1alpha1.RolloutList{}, name, func(w io.Writer, st style) error {
		info, err := e.info(ctx, name)
		if err == nil {
			renderRollout(w, info, e.now(), st)
		}
		return err
	})
}

// redraw draws, then draws again whenever the object name (of list's kind,
// in the namespace) changes, and every two seconds, until ctx ends
// (--timeout-seconds, or interrupted).
func (e *env) redraw(ctx context.Context, list client.ObjectList, name string, draw func(io.Writer, style) error) error {
	cl, ns, err := e.clientIn()
	if err != nil {
		return err
	}
	w, err := cl.Watch(ctx, list, client.InNamespace(ns), client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)})
	if err != nil {
		return err
	}
	defer w.Stop()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	st := style{color: e.color()}
	for {
		var frame bytes.Buffer
		if err := draw(&frame, st); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if st.color {
			fmt.Fprint(e.out, "\x1b[H\x1b[2J") // home, clear
		}
		_, _ = frame.WriteTo(e.out)
		if !st.color {
			fmt.Fprintln(e.out)
		}
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
		case <-tick.C:
		}
	}
}

// watchContext is ctx, ended after timeoutSeconds when it is positive.
func watchContext(ctx context.Context, timeoutSeconds int) (context.Context, context.CancelFunc) {
	if timeoutSeconds > 0 {
		return context.WithTimeout(ctx, time.Duration(timeoutSeconds)*time.Second)
	}
	return context.WithCancel(ctx)
}

func (e *env) completeRollouts(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	cl, ns, err := e.clientIn()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list := &v1alpha1.RolloutList{}
	if err := cl.List(cmd.Context(), list, client.InNamespace(ns)); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, ro := range list.Items {
		names = append(names, ro.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// printObject writes obj as json or yaml, without managedFields.
func printObject(w io.Writer, format string, obj runtime.Object) error {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	switch format {
	case "json":
		b, err := json.MarshalIndent(obj, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("--output %q: must be json or yaml", format)
}

func newListCommand(e *env) *cobra.Command {
	list := &cobra.Command{Use: "list", Short: "List rollouts or Experiments"}
	var all, watch, timestamps bool
	var output, name string
	ro := &cobra.Command{
		Use:     "rollouts",
		Aliases: []string{"rollout", "ro"},
		Short:   "List the rollouts of a namespace (-A: of every namespace)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			var opts []client.ListOption
			if !all {
				ns, err := e.namespace()
				if err != nil {
					return err
				}
				opts = append(opts, client.InNamespace(ns))
			}
			if name != "" {
				opts = append(opts, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)})
			}
			items := &v1alpha1.RolloutList{}
			if err := cl.List(cmd.Context(), items, opts...); err != nil {
				return explain(err, "rollouts", "", "")
			}
			slices.SortFunc(items.Items, func(a, b v1alpha1.Rollout) int {
				return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
			})
			if output != "" {
				for i := range items.Items {
					items.Items[i].ManagedFields = nil
				}
				return printObject(e.out, output, items)
			}
			st := style{color: e.color()}
			renderList(e.out, items.Items, all, st)
			if !watch {
				return nil
			}
			return e.watchList(cmd.Context(), cl, items.ResourceVersion, opts, all, timestamps, st)
		},
	}
	ro.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the rollouts of every namespace")
	ro.Flags().StringVarP(&output, "output", "o", "", "json or yaml: the Rollout objects")
	ro.Flags().StringVar(&name, "name", "", "only the rollout of this name")
	ro.Flags().BoolVarP(&watch, "watch", "w", false, "then print a rollout's row again each time it changes, until interrupted")
	ro.Flags().BoolVar(&timestamps, "timestamps", false, "with --watch: begin each changed row with the time")
	list.AddCommand(ro, newListExperimentsCommand(e))
	return list
}

// watchList prints a rollout's row each time what the row shows changes.
func (e *env) watchList(ctx context.Context, cl client.WithWatch, from string, opts []client.ListOption, namespaces, timestamps bool, st style) error {
	opts = append(opts, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: from}})
	w, err := cl.Watch(ctx, &v1alpha1.RolloutList{}, opts...)
	if err != nil {
		return err
	}
	defer w.Stop()
	last := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			ro, isRollout := ev.Object.(*v1alpha1.Rollout)
			if !isRollout {
				continue
			}
			var b strings.Builder
			renderRows(&b, []v1alpha1.Rollout{*ro}, namespaces, st)
			row := b.String()
			key := ro.Namespace + "/" + ro.Name
			if row == last[key] {
				continue
			}
			last[key] = row
			if timestamps {
				row = e.now().UTC().Format(time.RFC3339) + "  " + row
			}
			fmt.Fprint(e.out, row)
		}
	}
}

func renderList(w io.Writer, items []v1alpha1.Rollout, namespaces bool, st style) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if namespaces {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	fmt.Fprintln(tw, "NAME\tSTRATEGY\tSTATUS\tSTEP\tSET-WEIGHT\tREADY\tDESIRED\tUP-TO-DATE\tAVAILABLE")
	rows(tw, items, namespaces, st)
	_ = tw.Flush()
}

// renderRows prints rows without the header (list --watch).
func renderRows(w io.Writer, items []v1alpha1.Rollout, namespaces bool, st style) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows(tw, items, namespaces, st)
	_ = tw.Flush()
}

func rows(tw io.Writer, items []v1alpha1.Rollout, namespaces bool, st style) {
	for i := range items {
		ro := &items[i]
		if namespaces {
			fmt.Fprintf(tw, "%s\t", ro.Namespace)
		}
		strategy, step, weight := "BlueGreen", "-", "-"
		if c := ro.Spec.Strategy.Canary; c != nil {
			strategy = "Canary"
			idx := min(deref(ro.Status.CurrentStepIndex), int32(len(c.Steps)))
			if n := len(c.Steps); n > 0 {
				step = fmt.Sprintf("%d/%d", idx, n)
			}
			// As Argo's plugin: the weight the current step sets.
			weight = fmt.Sprint(canary.Weight(c.Steps, idx, c.GetMaxTrafficWeight()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\t%d\t%d\n", ro.Name, strategy, st.status(operate.Phase(ro)), step, weight,
			ro.Status.ReadyReplicas, ro.Status.Replicas, ro.Spec.GetReplicas(), ro.Status.UpdatedReplicas, ro.Status.AvailableReplicas)
	}
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
