// Package manifest reads Kubernetes manifests: YAML or JSON files that may
// hold several documents separated by ---. The CLI's lint, create and convert
// commands and the tests that load samples use it.
package manifest
