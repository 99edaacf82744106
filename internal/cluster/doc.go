// Package cluster runs a real Kubernetes control plane inside the current
// process: an embedded etcd, a kube-apiserver built from k8s.io/kubernetes,
// the kube-controller-manager controllers a rollout relies on (replicaset,
// deployment, endpointslice, garbage collector, job, namespace,
// serviceaccount and disruption), and simulated nodes that bind pods, give
// each its own IP in 127.0.0.0/8 and make it Running and Ready.
//
// Ramp's integration tests and the ramp-sandbox command use it in place of
// envtest plus kind: no Docker, no downloads at run time, free ports, several
// clusters per process.
//
//	c, err := cluster.Start(ctx, cluster.Options{})
//	if err != nil { ... }
//	defer c.Stop()
//	client := kubernetes.NewForConfigOrDie(c.Config())
//
// # Deviations from a real cluster
//
// Pods never run a container. The simulated nodes (see Nodes) move them
// through the states a kubelet would report, driven by two annotations a
// test or demo may set: AnnotationReady ("false" keeps a pod unready) and
// AnnotationCrash ("true" makes its containers crash-loop). Pods whose
// restartPolicy is Never or OnFailure terminate after a delay with the exit
// code in AnnotationExitCode, so Jobs succeed or fail for real.
//
// Pod IPs live in 127.0.0.0/8 so that a later demo can serve them on this
// machine. The kube-apiserver refuses loopback addresses in EndpointSlices,
// so the built-in discovery.k8s.io/v1 API is switched off and EndpointSlice
// is served by a CustomResourceDefinition of the same group, version, kind
// and schema (see endpointslice_crd.go). The upstream endpointslice
// controller writes to it unchanged.
//
// The ServiceAccount admission plugin is off: no container reads the
// projected token it would mount, and with it on every pod created before the
// namespace's default ServiceAccount exists is refused, which only adds
// retries. The serviceaccount controller still creates the default
// ServiceAccount of each namespace, for RBAC bindings that name it.
package cluster
