package notify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/argoproj/notifications-engine/pkg/api"
	"github.com/argoproj/notifications-engine/pkg/services"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Names of the configuration, in the controller's namespace.
const (
	ConfigMapName = "ramp-notification-configmap"
	SecretName    = "ramp-notification-secret"
)

// configTTL is how long a configuration read is used before it is read
// again (two GETs).
const configTTL = 10 * time.Second

// loaded is a parsed configuration and the engine built from it.
type loaded struct {
	cfg *api.Config
	api api.API
	// versions are the ConfigMap's and Secret's resourceVersions.
	versions string
	at       time.Time
	err      error
}

// configs reads and parses the configuration, at most once per configTTL,
// and builds the engine again only when the objects changed.
type configs struct {
	reader    client.Reader
	namespace string
	now       func() time.Time

	mu   sync.Mutex
	last *loaded
}

// get is the current configuration; cfg is nil when there is none (no
// ConfigMap).
func (c *configs) get(ctx context.Context) (*loaded, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.last != nil && now.Sub(c.last.at) < configTTL {
		return c.last, c.last.err
	}
	cm := &corev1.ConfigMap{}
	err := c.reader.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: ConfigMapName}, cm)
	if apierrors.IsNotFound(err) {
		c.last = &loaded{at: now}
		return c.last, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", c.namespace, ConfigMapName, err)
	}
	secret := &corev1.Secret{}
	if err := c.reader.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: SecretName}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading Secret %s/%s: %w", c.namespace, SecretName, err)
		}
		secret = &corev1.Secret{}
	}
	versions := cm.ResourceVersion + "/" + secret.ResourceVersion
	if c.last != nil && c.last.versions == versions {
		c.last.at = now
		return c.last, c.last.err
	}
	l := &loaded{versions: versions, at: now}
	l.cfg, l.err = api.ParseConfig(cm, secret)
	if l.err == nil {
		l.api, l.err = api.NewAPI(*l.cfg, vars(secret, c.now))
	}
	if l.err != nil {
		l.err = fmt.Errorf("ConfigMap %s/%s: %w", c.namespace, ConfigMapName, l.err)
	}
	c.last = l
	return l, l.err
}

// vars are the variables of templates and conditions, as Argo Rollouts
// gives them: the object as rollout, time, secrets, and at send time
// recipient and serviceType.
func vars(secret *corev1.Secret, now func() time.Time) api.GetVars {
	return func(obj map[string]any, dest services.Destination) map[string]any {
		v := map[string]any{
			"rollout": obj,
			"time": map[string]any{
				"Now":   func() time.Time { return now() },
				"Parse": func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t },
			},
			"secrets": secret.Data,
		}
		if dest.Service != "" {
			v["recipient"] = dest.Recipient
			v["serviceType"] = dest.Service
		}
		return v
	}
}
