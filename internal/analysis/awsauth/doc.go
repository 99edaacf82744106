// Package awsauth finds the AWS identity a metric's sigv4 block asks for:
// the controller's own (the default credential chain: IRSA, EKS Pod
// Identity, environment, instance role), a shared-config profile, or an
// assumed role. A template's author does not choose freely: a profile or a
// role must be one the controller's operator allowed. Identities are kept
// and reused, so a measurement neither reloads the configuration nor calls
// STS again.
package awsauth
