package migrate

import (
	"fmt"
	"io"
	"strings"
)

// Print writes the plan as `ramp migrate` shows it: one block per object,
// saying what is moved and what is refused and why. verb is what happens
// to a Rollout that is not refused ("move", "hand back").
func (p *Plan) Print(w io.Writer, verb string) {
	if p.Leader != "" {
		fmt.Fprintf(w, "refused: %s\n", p.Leader)
	}
	for _, t := range p.Templates {
		name := t.Name
		if t.Namespace != "" {
			name = t.Namespace + "/" + name
		}
		switch {
		case t.Refused != "":
			fmt.Fprintf(w, "%s %s: refused: %s\n", t.Kind, name, t.Refused)
		case t.Exists:
			fmt.Fprintf(w, "%s %s: Ramp's copy exists already, with the same spec\n", t.Kind, name)
		default:
			fmt.Fprintf(w, "%s %s: copy to ramp.dev/v1alpha1\n", t.Kind, name)
		}
	}
	for _, r := range p.Rollouts {
		fmt.Fprintf(w, "Rollout %s/%s: ", r.Namespace, r.Name)
		if len(r.Refused) > 0 {
			fmt.Fprintf(w, "refused: %s\n", strings.Join(r.Refused, "; "))
			if r.State != "" {
				fmt.Fprintf(w, "  state: %s\n", r.State)
			}
			continue
		}
		fmt.Fprintf(w, "%s\n", verb)
		fmt.Fprintf(w, "  state: %s\n", r.State)
		if r.Forced != "" {
			fmt.Fprintf(w, "  forced: %s\n", r.Forced)
		}
		for _, rs := range r.ReplicaSets {
			fmt.Fprintf(w, "  ReplicaSet %s: owner moved; pods untouched\n", rs)
		}
		for _, s := range r.Services {
			fmt.Fprintf(w, "  Service %s: selector unchanged\n", s)
		}
		for _, i := range r.Ingresses {
			fmt.Fprintf(w, "  Ingress %s: weights unchanged\n", i)
		}
	}
	if len(p.Templates) == 0 && len(p.Rollouts) == 0 {
		fmt.Fprintln(w, "nothing to do: no Argo Rollouts objects in scope")
	}
}

// Refused counts the objects the plan does not move.
func (p *Plan) Refused() int {
	n := 0
	for _, t := range p.Templates {
		if t.Refused != "" {
			n++
		}
	}
	for _, r := range p.Rollouts {
		if len(r.Refused) > 0 {
			n++
		}
	}
	return n
}
