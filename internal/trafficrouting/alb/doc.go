// Package alb is the AWS Application Load Balancer traffic router. It
// writes the AWS Load Balancer Controller's annotations on Ingresses the
// user owns, and nothing else of them:
//
//   - <prefix>/actions.<rootService>: a forward action whose weighted
//     target groups are the canary and the stable Services;
//   - for each header route R: <prefix>/actions.R (all to the canary),
//     <prefix>/conditions.R (the exact header matches), and a path /* at
//     the top of every rule that sends to R through "use-annotation";
//   - ramp.dev/managed-alb-annotations: which of those keys belong to
//     which Rollout, so several Rollouts can share one Ingress.
//
// The JSON is the AWS Load Balancer Controller's own schema (camelCase
// keys, integer ports and weights); testdata/golden holds it per case.
//
// With a Verifier (ramp-controller --aws-verify-target-group) the router
// also asks AWS, through the ELBv2 API, whether the load balancer's
// listener rules really carry the weights, and whether TargetGroupBindings
// in IP mode have registered every endpoint of a Service.
package alb
