package analysis

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultNamespace is the controller's namespace when neither
// $POD_NAMESPACE nor the service account's namespace file says it.
const DefaultNamespace = "ramp-system"

// serviceAccountNamespace is where a pod's namespace is mounted.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ControllerNamespace is the namespace the controller runs in: $POD_NAMESPACE,
// else the service account's namespace file, else DefaultNamespace.
func ControllerNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if data, err := os.ReadFile(serviceAccountNamespace); err == nil && len(data) > 0 {
		return string(data)
	}
	return DefaultNamespace
}

// Credentials reads the Secrets providers take their credentials from
// (Datadog's datadog, New Relic's newrelic...), as Argo Rollouts documents
// them: from the API server on each measurement, never cached, never
// written anywhere.
type Credentials struct {
	// Reader reads Secrets; the manager's API reader, past the cache.
	Reader client.Reader
	// Namespace is the controller's namespace, where provider Secrets
	// live unless a block says namespaced.
	Namespace string
	// Getenv reads the controller's environment (DD_API_KEY...); nil is
	// os.LookupEnv.
	Getenv func(string) (string, bool)
}

// Env reads an environment variable.
func (c Credentials) Env(name string) (string, bool) {
	if c.Getenv != nil {
		return c.Getenv(name)
	}
	return os.LookupEnv(name)
}

// Secret reads a Secret's keys, from namespace (empty: the controller's).
// A missing Secret is an error naming it; so is a controller without one.
func (c Credentials) Secret(ctx context.Context, namespace, name string) (map[string]string, error) {
	if namespace == "" {
		namespace = c.Namespace
	}
	if c.Reader == nil {
		return nil, fmt.Errorf("Secret %s/%s: this controller reads no Secrets", namespace, name)
	}
	s := &corev1.Secret{}
	if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("Secret %s/%s does not exist", namespace, name)
		}
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("Secret %s/%s: the controller may not read it (RBAC)", namespace, name)
		}
		return nil, fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
	}
	out := make(map[string]string, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		out[k] = string(v)
	}
	return out, nil
}
