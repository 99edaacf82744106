package providertest

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Secrets answers a provider's Secret reads from a map of
// "namespace/name" to keys, as the API server would (NotFound when
// missing). It stands in for the API reader in a provider's own tests; the
// end-to-end tests read real Secrets as the controller's ServiceAccount.
type Secrets map[string]map[string]string

// Get fills a *corev1.Secret.
func (s Secrets) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	data, ok := s[key.Namespace+"/"+key.Name]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
	}
	sec := obj.(*corev1.Secret)
	sec.Data = map[string][]byte{}
	for k, v := range data {
		sec.Data[k] = []byte(v)
	}
	return nil
}

// List lists nothing: providers read Secrets one by one.
func (Secrets) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }
