// Package clustertest holds what tests on the in-process cluster share: a
// namespace of their own, and waiting for a condition with a deadline
// (never sleeping to synchronise).
package clustertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Namespace creates a namespace named after the test (a benchmark that
// runs its function again gets "-2", "-3"...) and returns its name.
func Namespace(t testing.TB, c client.Client) string {
	t.Helper()
	base := strings.Trim(strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), "-")
	if len(base) > 55 {
		base = strings.Trim(base[len(base)-55:], "-")
	}
	ns := base
	for n := 2; ; n++ {
		err := c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err == nil {
			return ns
		}
		if !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		ns = fmt.Sprintf("%s-%d", base, n)
	}
}

// Eventually waits up to timeout for cond, polling; on timeout it fails
// the test with what cond last said.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 25*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, why := cond()
		last = why
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not true after %v; last seen: %s", what, timeout, last)
	}
}
