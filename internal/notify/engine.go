package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/argoproj/notifications-engine/pkg/services"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Engine is a notification configuration loaded from a namespace, to try
// it without a release (`ramp notifications`).
type Engine struct {
	l *loaded
}

// Load reads ramp-notification-configmap and ramp-notification-secret from
// namespace.
func Load(ctx context.Context, reader client.Reader, namespace string) (*Engine, error) {
	c := &configs{reader: reader, namespace: namespace, now: time.Now}
	l, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	if l.cfg == nil {
		return nil, fmt.Errorf("there is no ConfigMap %s in namespace %s", ConfigMapName, namespace)
	}
	return &Engine{l: l}, nil
}

// Condition is one condition of a trigger, judged on an object.
type Condition struct {
	// When is the condition's expression; empty fires on every event.
	When string
	// Triggered says whether it fires.
	Triggered bool
	// Send are the templates it sends.
	Send []string
}

// Object is obj as templates and conditions see it.
func Object(obj runtime.Object) (map[string]any, error) {
	return runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
}

// RunTrigger judges trigger's conditions on obj, as the controller does
// when the trigger's event is recorded.
func (e *Engine) RunTrigger(trigger string, obj map[string]any) ([]Condition, error) {
	conditions, ok := e.l.cfg.Triggers[trigger]
	if !ok {
		return nil, fmt.Errorf("trigger %q is not in %s", trigger, ConfigMapName)
	}
	results, err := e.l.api.RunTrigger(trigger, obj)
	if err != nil {
		return nil, err
	}
	out := make([]Condition, len(conditions))
	for i, c := range conditions {
		out[i] = Condition{When: c.When, Send: c.Send, Triggered: c.When == "" || (i < len(results) && results[i].Triggered)}
	}
	return out, nil
}

// Destinations are the subscribers of trigger for obj.
func (e *Engine) Destinations(trigger string, obj map[string]any) []services.Destination {
	return destinations(e.l, trigger, obj)
}

// Send renders template for obj and sends it to dest.
func (e *Engine) Send(obj map[string]any, template string, dest services.Destination) error {
	if _, ok := e.l.cfg.Templates[template]; !ok {
		return fmt.Errorf("template %q is not in %s", template, ConfigMapName)
	}
	if _, ok := e.l.cfg.Services[dest.Service]; !ok {
		return fmt.Errorf("service %q is not in %s", dest.Service, ConfigMapName)
	}
	return e.l.api.Send(obj, []string{template}, dest)
}
