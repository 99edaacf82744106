// Package apisix is the Apache APISIX traffic router: it weights the stable
// and canary Services among the backends of an ApisixRoute's HTTP rules (the
// rules trafficRouting.apisix.route.rules names, by default the one named
// like the route), as Argo Rollouts' APISIX router does. A header route is
// an ApisixRoute of its own, <route>-header-<name>, owned by the Rollout:
// the weighted rules, one priority higher, matching the step's headers as
// well as the rule's own conditions, sent to the canary Service alone.
// Routes are read and written untyped, with their resourceVersion.
package apisix
