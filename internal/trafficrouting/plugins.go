package trafficrouting

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// GatewayAPIPlugin is the name Argo Rollouts' Gateway API plugin is
// configured under in trafficRouting.plugins.
const GatewayAPIPlugin = "argoproj-labs/gatewayAPI"

// ResolvePlugins runs the plugin configurations Ramp has built in with its
// own routers: trafficRouting.plugins["argoproj-labs/gatewayAPI"] becomes
// trafficRouting.gatewayAPI (the plugin takes the same fields). It changes
// tr in place and is a no-op when there is nothing to resolve. A
// configuration the built-in router cannot take is an error naming the
// field; tr is then left as it was.
func ResolvePlugins(tr *v1alpha1.RolloutTrafficRouting) error {
	if tr == nil {
		return nil
	}
	raw, ok := tr.Plugins[GatewayAPIPlugin]
	if !ok {
		return nil
	}
	path := "spec.strategy.canary.trafficRouting.plugins." + GatewayAPIPlugin
	if tr.GatewayAPI != nil {
		return fmt.Errorf("%s: gatewayAPI is set too; keep one of them", path)
	}
	cfg := &v1alpha1.GatewayAPITrafficRouting{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return fmt.Errorf("%s: %v (Ramp runs it with its built-in Gateway API router, which takes httpRoute(s), grpcRoute(s), tcpRoute(s), namespace and configMap)", path, err)
	}
	plugins := make(map[string]json.RawMessage, len(tr.Plugins)-1)
	for k, v := range tr.Plugins {
		if k != GatewayAPIPlugin {
			plugins[k] = v
		}
	}
	if len(plugins) == 0 {
		plugins = nil
	}
	tr.GatewayAPI, tr.Plugins = cfg, plugins
	return nil
}
