// Package config builds Ramp's installation manifests: the kustomization in
// default/ (CRDs, RBAC, the controller's Deployment), embedded and
// rendered with kustomize's own library, exactly as `kubectl apply -k
// config/default` renders it. Tests apply the result to the in-process
// cluster and run the controller as its ServiceAccount, so a permission
// missing from config/rbac fails them.
package config
