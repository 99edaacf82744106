// Package trafficrouting defines what the Rollout reconciler asks of a
// traffic router (AWS ALB, NGINX, Gateway API, Istio, SMI...): a small
// Router interface every router implements, and capability interfaces
// (header routes, mirror routes, weight verification) that only some do.
// The reconciler asks a Factory for a rollout's routers; the routers
// themselves live in their own packages, and memory/ holds one that only
// remembers what it was told, for tests.
package trafficrouting
