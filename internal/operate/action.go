package operate

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Action is one change to a rollout, decided on the rollout as read:
// Change edits its spec and status and says in one line what it did, or
// refuses with an error a person understands.
type Action struct {
	// StepBound actions (a promote of one step) are given for the step
	// the user saw: refused once the rollout is at another step or pause.
	// The others are given for the revision the user saw.
	StepBound bool
	Change    func(ro *v1alpha1.Rollout) (string, error)
}

// Do applies a to the rollout named by key: spec through the object, status
// through its subresource, each with a merge patch guarded by the
// resourceVersion read. seen is the state the user decided on (the
// dashboard's page carries it); nil takes the first read as seen (the CLI,
// which decides on what it reads). On a conflict the action is decided
// again, but only while the rollout is where the user saw it.
func Do(ctx context.Context, cl client.Client, key client.ObjectKey, a Action, seen *State) (string, error) {
	same := SameRevision
	if a.StepBound {
		same = SameStep
	}
	var msg string
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		ro := &v1alpha1.Rollout{}
		if err := cl.Get(ctx, key, ro); err != nil {
			return Explain(err, "rollout", key.Name, key.Namespace)
		}
		now := StateOf(ro)
		if seen == nil {
			seen = &now
		} else if !same(*seen, now) {
			return &MovedOnError{Name: key.Name, From: *seen, To: now}
		}
		before := ro.DeepCopy()
		var err error
		if msg, err = a.Change(ro); err != nil {
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
		return "", ExplainWrite(err, key.Name)
	}
	return msg, nil
}

// State is what an action is decided on: the rollout's revision, step,
// pause and abort.
type State struct {
	Generation  int64  `json:"g"`
	Current     string `json:"c,omitempty"`
	Stable      string `json:"s,omitempty"`
	Step        int32  `json:"i"`
	Pauses      string `json:"p,omitempty"`
	Abort       bool   `json:"a,omitempty"`
	PromoteFull bool   `json:"f,omitempty"`
}

// StateOf is the state of ro an action is decided on.
func StateOf(ro *v1alpha1.Rollout) State {
	var pauses []string
	for _, c := range ro.Status.PauseConditions {
		pauses = append(pauses, string(c.Reason))
	}
	return State{Generation: ro.Generation, Current: ro.Status.CurrentPodHash, Stable: ro.Status.StableRS,
		Step: ptr.Deref(ro.Status.CurrentStepIndex, -1), Pauses: strings.Join(pauses, ","), Abort: ro.Status.Abort, PromoteFull: ro.Status.PromoteFull}
}

// Token is the state as a string a page can carry and give back.
func (s State) Token() string {
	b, _ := json.Marshal(s)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseState reads a Token.
func ParseState(token string) (State, error) {
	var s State
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		return State{}, fmt.Errorf("the state the action was decided on is unreadable (%q): reload the page", token)
	}
	return s, nil
}

// SameRevision reports the same spec, revision and abort: an abort or a promote
// --full given for one revision never applies to the next.
func SameRevision(a, b State) bool {
	return a.Generation == b.Generation && a.Current == b.Current && a.Stable == b.Stable && a.Abort == b.Abort
}

// SameStep reports SameRevision at the same step and pause.
func SameStep(a, b State) bool {
	return SameRevision(a, b) && a.Step == b.Step && a.Pauses == b.Pauses && a.PromoteFull == b.PromoteFull
}

// MovedOnError is an action refused because the rollout moved on between
// the state it was decided on and its write.
type MovedOnError struct {
	Name     string
	From, To State
}

func (e *MovedOnError) Error() string {
	what := "its state"
	switch {
	case e.From.Generation != e.To.Generation:
		what = "its spec"
	case e.From.Current != e.To.Current:
		what = "its revision"
	case e.From.Step != e.To.Step:
		what = fmt.Sprintf("step %d to step %d", e.From.Step, e.To.Step)
	case e.From.Pauses != e.To.Pauses:
		what = "its pause"
	case e.From.Abort != e.To.Abort:
		what = "its abort"
	}
	return fmt.Sprintf("rollout %q moved on (%s) while the action was being written: nothing was done; look again (ramp get rollout %s) and run it again", e.Name, what, e.Name)
}

// ExplainWrite turns a failed write into one line naming the rollout; a
// refusal by RBAC stays recognisable (apierrors.IsForbidden).
func ExplainWrite(err error, name string) error {
	var moved *MovedOnError
	switch {
	case errors.As(err, &moved):
		return err
	case apierrors.IsConflict(err):
		return fmt.Errorf("rollout %q changed while the action was decided; run it again", name)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("not allowed to change rollout %q: %w", name, err)
	}
	return err
}

// Explain turns a failed read into one line naming the object; a refusal
// by RBAC stays recognisable (apierrors.IsForbidden).
func Explain(err error, kind, name, ns string) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s %q not found in namespace %q", kind, name, ns)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("not allowed to read %s %q in namespace %q: %w", kind, name, ns, err)
	}
	return err
}

// Updating reports whether ro has an update in progress.
func Updating(ro *v1alpha1.Rollout) bool {
	return ro.Status.CurrentPodHash != "" && ro.Status.StableRS != "" && ro.Status.CurrentPodHash != ro.Status.StableRS
}

// Paused reports whether ro is paused, by `ramp pause` or by a step.
func Paused(ro *v1alpha1.Rollout) bool {
	return ro.Spec.Paused || len(ro.Status.PauseConditions) > 0
}

// PromoteOptions are promote's flags.
type PromoteOptions struct {
	// Full skips every remaining step, pause and analysis.
	Full bool
	// SkipCurrentStep goes to the next canary step, whatever the current
	// one waits for (Argo's flag).
	SkipCurrentStep bool
	// SkipAllSteps goes past the last canary step; a running background
	// analysis still counts (Argo's flag).
	SkipAllSteps bool
}

// Promote ends the current pause or step (Full: every remaining one).
func Promote(o PromoteOptions) Action {
	return Action{StepBound: !o.Full && !o.SkipAllSteps, Change: func(ro *v1alpha1.Rollout) (string, error) {
		if o.SkipCurrentStep || o.SkipAllSteps {
			if err := skippable(ro, o); err != nil {
				return "", err
			}
		}
		if !Updating(ro) && !Paused(ro) {
			return "", fmt.Errorf("rollout %q is %s with no update in progress: nothing to promote", ro.Name, Phase(ro))
		}
		if ro.Status.Abort {
			return "", fmt.Errorf("rollout %q is aborted: retry it first (ramp retry %s)", ro.Name, ro.Name)
		}
		if o.Full {
			ro.Status.PromoteFull = true
			ro.Spec.Paused = false
			ro.Status.PauseConditions = nil
			return fmt.Sprintf("rollout %q fully promoted", ro.Name), nil
		}
		c := ro.Spec.Strategy.Canary
		if o.SkipAllSteps {
			// Argo's --skip-all-steps: past the last step; the analyses
			// still running keep their say, unlike --full.
			ro.Spec.Paused = false
			ro.Status.PauseConditions = nil
			ro.Status.CurrentStepIndex = ptr.To(int32(len(c.Steps)))
			return fmt.Sprintf("rollout %q promoted: every remaining step skipped", ro.Name), nil
		}
		if Paused(ro) && !o.SkipCurrentStep {
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
	}}
}

// skippable refuses the step-skipping flags where Argo's plugin does: on
// blue/green, on a canary without steps, and together with one another.
func skippable(ro *v1alpha1.Rollout, o PromoteOptions) error {
	switch {
	case o.Full || (o.SkipCurrentStep && o.SkipAllSteps):
		return errors.New("--full, --skip-current-step and --skip-all-steps exclude one another")
	case ro.Spec.Strategy.Canary == nil:
		return fmt.Errorf("rollout %q is blue/green: --skip-current-step and --skip-all-steps are for canary steps", ro.Name)
	case len(ro.Spec.Strategy.Canary.Steps) == 0:
		return fmt.Errorf("rollout %q is a canary without steps: there is no step to skip", ro.Name)
	}
	return nil
}

// Abort sends all traffic back to the stable version and scales the new
// one down.
func Abort() Action {
	return Action{Change: func(ro *v1alpha1.Rollout) (string, error) {
		switch {
		case ro.Status.Abort:
			return "", fmt.Errorf("rollout %q is already aborted", ro.Name)
		case !Updating(ro):
			return "", fmt.Errorf("rollout %q is %s with no update in progress: nothing to abort", ro.Name, Phase(ro))
		}
		ro.Status.Abort = true
		return fmt.Sprintf("rollout %q aborted", ro.Name), nil
	}}
}

// Retry starts an aborted update over.
func Retry() Action {
	return Action{Change: func(ro *v1alpha1.Rollout) (string, error) {
		if !ro.Status.Abort {
			return "", fmt.Errorf("rollout %q is not aborted: nothing to retry", ro.Name)
		}
		ro.Status.Abort = false
		return fmt.Sprintf("rollout %q retried", ro.Name), nil
	}}
}

// Pause holds the rollout where it is.
func Pause() Action {
	return Action{Change: func(ro *v1alpha1.Rollout) (string, error) {
		if ro.Spec.Paused {
			return "", fmt.Errorf("rollout %q is already paused", ro.Name)
		}
		ro.Spec.Paused = true
		return fmt.Sprintf("rollout %q paused", ro.Name), nil
	}}
}

// Resume lifts a pause made with Pause.
func Resume() Action {
	return Action{Change: func(ro *v1alpha1.Rollout) (string, error) {
		if !ro.Spec.Paused {
			return "", fmt.Errorf("rollout %q is not paused by `ramp pause` (a step's pause ends with `ramp promote`)", ro.Name)
		}
		ro.Spec.Paused = false
		return fmt.Sprintf("rollout %q resumed", ro.Name), nil
	}}
}

// Restart replaces every pod of the rollout, a few at a time, in after now.
func Restart(now time.Time, in time.Duration) Action {
	return Action{Change: func(ro *v1alpha1.Rollout) (string, error) {
		if in < 0 {
			return "", fmt.Errorf("--in %s: must not be negative", in)
		}
		at := metav1.NewTime(now.Add(in).Truncate(time.Second))
		ro.Spec.RestartAt = &at
		if in == 0 {
			return fmt.Sprintf("rollout %q restarts now", ro.Name), nil
		}
		return fmt.Sprintf("rollout %q restarts at %s", ro.Name, at.UTC().Format(time.RFC3339)), nil
	}}
}

// equalJSON compares two values as the API would store them.
func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
