package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/operate"
)

func (e *env) experiment(ctx context.Context, name string) (*v1alpha1.Experiment, error) {
	cl, ns, err := e.clientIn()
	if err != nil {
		return nil, err
	}
	ex := &v1alpha1.Experiment{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ex); err != nil {
		return nil, explain(err, "experiment", name, ns)
	}
	return ex, nil
}

func (e *env) experimentInfo(ctx context.Context, name string) (*operate.ExperimentInfo, error) {
	ex, err := e.experiment(ctx, name)
	if err != nil {
		return nil, err
	}
	cl, err := e.client()
	if err != nil {
		return nil, err
	}
	return operate.LoadExperiment(ctx, cl, ex)
}

func newGetExperimentCommand(e *env) *cobra.Command {
	var output string
	var watch bool
	var timeoutSeconds int
	cmd := &cobra.Command{
		Use:     "experiment NAME",
		Aliases: []string{"experiments", "exp"},
		Short:   "Show an Experiment: its templates' ReplicaSets and pods, Services and AnalysisRuns",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch {
				ctx, cancel := watchContext(cmd.Context(), timeoutSeconds)
				defer cancel()
				return e.watchExperiment(ctx, args[0])
			}
			info, err := e.experimentInfo(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if output != "" {
				return printObject(e.out, output, info.Experiment)
			}
			renderExperiment(e.out, info, e.now(), style{color: e.color()})
			return nil
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "redraw on every change until interrupted")
	cmd.Flags().IntVar(&timeoutSeconds, "timeout-seconds", 0, "with --watch: stop watching after this many seconds (0: never)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "json or yaml: the Experiment object")
	return cmd
}

// watchExperiment redraws the experiment when it changes, and every two
// seconds for its pods' and runs' ages, until ctx ends.
func (e *env) watchExperiment(ctx context.Context, name string) error {
	if _, err := e.experiment(ctx, name); err != nil {
		return err
	}
	return e.redraw(ctx, &v1alpha1.ExperimentList{}, name, func(w io.Writer, st style) error {
		info, err := e.experimentInfo(ctx, name)
		if err == nil {
			renderExperiment(w, info, e.now(), st)
		}
		return err
	})
}

// renderExperiment writes `get experiment`: a header, then the tree.
func renderExperiment(w io.Writer, info *operate.ExperimentInfo, now time.Time, st style) {
	ex := info.Experiment
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", ex.Name)
	fmt.Fprintf(tw, "Namespace:\t%s\n", ex.Namespace)
	fmt.Fprintf(tw, "Status:\t%s\n", st.status(operate.ExperimentPhase(ex)))
	if ex.Status.Message != "" {
		fmt.Fprintf(tw, "Message:\t%s\n", ex.Status.Message)
	}
	if ref := metav1.GetControllerOf(ex); ref != nil {
		fmt.Fprintf(tw, "Owner:\t%s %s\n", ref.Kind, ref.Name)
	}
	if d := ex.Spec.Duration; d != "" {
		line := string(d)
		if dur, err := time.ParseDuration(string(d)); err == nil && ex.Status.AvailableAt != nil && !ex.Status.Phase.Completed() {
			line += fmt.Sprintf(" (%s left)", duration.HumanDuration(max(0, ex.Status.AvailableAt.Add(dur).Sub(now))))
		}
		fmt.Fprintf(tw, "Duration:\t%s\n", line)
	}
	if at := ex.Status.AvailableAt; at != nil {
		fmt.Fprintf(tw, "Available:\t%s ago\n", age(now, at.Time))
	}
	for i, t := range ex.Spec.Templates {
		label := ""
		if i == 0 {
			label = "Images:"
		}
		for _, c := range t.Template.Spec.Containers {
			fmt.Fprintf(tw, "%s\t%s (%s)\n", label, c.Image, t.Name)
			label = ""
		}
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSTATUS\tAGE\tINFO")
	fmt.Fprintf(tw, "%s\tExperiment\t%s\t%s\t\n", ex.Name, st.status(operate.ExperimentPhase(ex)), age(now, ex.CreationTimestamp.Time))
	experimentRows(tw, info, "", now, st)
	_ = tw.Flush()
}

// experimentRows writes the experiment's children under prefix: each
// template's ReplicaSet with its pods, the Services, the AnalysisRuns.
func experimentRows(tw io.Writer, info *operate.ExperimentInfo, prefix string, now time.Time, st style) {
	type row struct {
		name, kind, status, age, info string
		children                      []row
	}
	var rows []row
	for _, rs := range info.ReplicaSets {
		r := row{name: rs.Name, kind: "ReplicaSet", status: operate.ReplicaSetStatus(&rs), age: age(now, rs.CreationTimestamp.Time),
			info: "template:" + rs.Labels[v1alpha1.ExperimentTemplateNameLabelKey]}
		for _, p := range info.Pods[rs.Name] {
			r.children = append(r.children, row{name: p.Name, kind: "Pod", status: operate.PodStatus(&p), age: age(now, p.CreationTimestamp.Time), info: operate.PodInfo(&p)})
		}
		rows = append(rows, r)
	}
	for _, s := range info.Services {
		rows = append(rows, row{name: s.Name, kind: "Service", age: age(now, s.CreationTimestamp.Time), info: "template:" + s.Labels[v1alpha1.ExperimentTemplateNameLabelKey]})
	}
	for _, r := range info.Runs {
		rows = append(rows, row{name: r.Name, kind: "AnalysisRun", status: operate.RunPhase(&r), age: age(now, r.CreationTimestamp.Time), info: operate.RunSummary(&r)})
	}
	for k, r := range rows {
		b, in := "├──", "│  "
		if k == len(rows)-1 {
			b, in = "└──", "   "
		}
		fmt.Fprintf(tw, "%s%s%s\t%s\t%s\t%s\t%s\n", prefix, b, r.name, r.kind, st.status(r.status), r.age, r.info)
		for m, c := range r.children {
			cb := "├──"
			if m == len(r.children)-1 {
				cb = "└──"
			}
			fmt.Fprintf(tw, "%s%s%s%s\t%s\t%s\t%s\t%s\n", prefix, in, cb, c.name, c.kind, st.status(c.status), c.age, c.info)
		}
	}
}

func newListExperimentsCommand(e *env) *cobra.Command {
	var all bool
	var output string
	cmd := &cobra.Command{
		Use:     "experiments",
		Aliases: []string{"experiment", "exp"},
		Short:   "List the Experiments of a namespace (-A: of every namespace)",
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
			items := &v1alpha1.ExperimentList{}
			if err := cl.List(cmd.Context(), items, opts...); err != nil {
				return explain(err, "experiments", "", "")
			}
			slices.SortFunc(items.Items, func(a, b v1alpha1.Experiment) int {
				return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
			})
			if output != "" {
				for i := range items.Items {
					items.Items[i].ManagedFields = nil
				}
				return printObject(e.out, output, items)
			}
			st := style{color: e.color()}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			if all {
				fmt.Fprint(tw, "NAMESPACE\t")
			}
			fmt.Fprintln(tw, "NAME\tSTATUS\tTEMPLATES\tANALYSES\tDURATION\tOWNER\tAGE")
			for _, ex := range items.Items {
				if all {
					fmt.Fprintf(tw, "%s\t", ex.Namespace)
				}
				owner := "-"
				if ref := metav1.GetControllerOf(&ex); ref != nil {
					owner = ref.Kind + "/" + ref.Name
				}
				d := string(ex.Spec.Duration)
				if d == "" {
					d = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", ex.Name, st.status(operate.ExperimentPhase(&ex)), len(ex.Spec.Templates), len(ex.Spec.Analyses), d, owner, age(e.now(), ex.CreationTimestamp.Time))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the Experiments of every namespace")
	cmd.Flags().StringVarP(&output, "output", "o", "", "json or yaml: the Experiment objects")
	return cmd
}

func newTerminateExperimentCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "experiment NAME",
		Aliases: []string{"experiments", "exp"},
		Short:   "Stop an Experiment: its runs stop, it ends Successful if nothing failed, and its pods are scaled down",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, err := e.experiment(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			switch {
			case ex.Status.Phase.Completed():
				return fmt.Errorf("experiment %q has already finished (%s)", ex.Name, ex.Status.Phase)
			case ex.Spec.Terminate:
				return fmt.Errorf("experiment %q is already terminating", ex.Name)
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			// Optimistic: the experiment as the user's command saw it.
			patch := client.MergeFromWithOptions(ex.DeepCopy(), client.MergeFromWithOptimisticLock{})
			ex.Spec.Terminate = true
			if err := cl.Patch(cmd.Context(), ex, patch); err != nil {
				return explainExperimentWrite(err, ex.Name)
			}
			_, err = fmt.Fprintf(e.out, "experiment %q terminated\n", ex.Name)
			return err
		},
	}
}

// newRetryExperimentCommand runs a finished Experiment again: its runs are
// deleted and its status cleared (as of the state the command read), so
// the controller scales its templates up and starts new runs. An
// Experiment a rollout's step owns is the rollout's to retry.
func newRetryExperimentCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "experiment NAME",
		Aliases: []string{"experiments", "exp"},
		Short:   "Run a finished Experiment again, with new AnalysisRuns",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := e.experimentInfo(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ex := info.Experiment
			if ref := metav1.GetControllerOf(ex); ref != nil && ref.Kind == "Rollout" {
				return fmt.Errorf("experiment %q is a step of rollout %q: retry the rollout (ramp retry rollout %s)", ex.Name, ref.Name, ref.Name)
			}
			if !ex.Status.Phase.Completed() {
				return fmt.Errorf("experiment %q is %s: only a finished experiment can be retried", ex.Name, operate.ExperimentPhase(ex))
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			if ex.Spec.Terminate {
				patch := client.MergeFromWithOptions(ex.DeepCopy(), client.MergeFromWithOptimisticLock{})
				ex.Spec.Terminate = false
				if err := cl.Patch(cmd.Context(), ex, patch); err != nil {
					return explainExperimentWrite(err, ex.Name)
				}
			}
			for i := range info.Runs {
				precondition := client.Preconditions{UID: &info.Runs[i].UID}
				if err := cl.Delete(cmd.Context(), &info.Runs[i], precondition); client.IgnoreNotFound(err) != nil {
					return fmt.Errorf("deleting AnalysisRun %s: %w", info.Runs[i].Name, err)
				}
			}
			ex.Status = v1alpha1.ExperimentStatus{}
			if err := cl.Status().Update(cmd.Context(), ex); err != nil {
				return explainExperimentWrite(err, ex.Name)
			}
			_, err = fmt.Fprintf(e.out, "experiment %q retried\n", ex.Name)
			return err
		},
	}
}

func explainExperimentWrite(err error, name string) error {
	switch {
	case strings.Contains(err.Error(), "the object has been modified"):
		return fmt.Errorf("experiment %q changed while the action was decided; run it again", name)
	case isForbidden(err):
		return fmt.Errorf("not allowed to change experiment %q: %v", name, err)
	}
	return err
}
