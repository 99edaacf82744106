// Package traefik is the Traefik traffic router: it weights the stable and
// canary Services of a TraefikService's weighted round robin
// (spec.weighted.services), as Argo Rollouts' Traefik router does. The
// TraefikService is read and written untyped, with its resourceVersion, so
// what Ramp does not know in it survives. Traefik cannot match headers or
// mirror by step, so the router has no header or mirror routes.
package traefik
