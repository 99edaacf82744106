package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	cacheddiscovery "k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/controller-manager/pkg/informerfactory"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/deployment"
	"k8s.io/kubernetes/pkg/controller/disruption"
	"k8s.io/kubernetes/pkg/controller/endpointslice"
	"k8s.io/kubernetes/pkg/controller/garbagecollector"
	"k8s.io/kubernetes/pkg/controller/job"
	"k8s.io/kubernetes/pkg/controller/namespace"
	"k8s.io/kubernetes/pkg/controller/replicaset"
	"k8s.io/kubernetes/pkg/controller/serviceaccount"
)

// controllerSyncPeriod is how often the garbage collector re-reads discovery
// to watch newly installed resources (such as Ramp's CRDs).
const controllerSyncPeriod = 2 * time.Second

// startControllers runs the kube-controller-manager controllers a rollout
// relies on (replicaset, deployment, endpointslice, job, serviceaccount,
// namespace, garbage collector and disruption, which keeps
// PodDisruptionBudgets' status for the Eviction API) until ctx is cancelled. Every controller talks JSON: the
// EndpointSlice CRD cannot speak protobuf.
func startControllers(ctx context.Context, base *restclient.Config, wg *sync.WaitGroup) error {
	cfg := restclient.CopyConfig(base)
	cfg.ContentType = "application/json"
	cfg.AcceptContentTypes = "application/json"
	cfg.QPS = 200
	cfg.Burst = 400

	newClient := func(name string) (kubernetes.Interface, error) {
		c := restclient.CopyConfig(cfg)
		restclient.AddUserAgent(c, name)
		return kubernetes.NewForConfig(c)
	}
	shared, err := newClient("shared-informers")
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(shared, 0)
	logger := klog.FromContext(ctx)

	rsClient, err := newClient("replicaset-controller")
	if err != nil {
		return err
	}
	rsc := replicaset.NewReplicaSetController(ctx, factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), rsClient, 500)

	dClient, err := newClient("deployment-controller")
	if err != nil {
		return err
	}
	dc, err := deployment.NewDeploymentController(ctx, factory.Apps().V1().Deployments(), factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), dClient)
	if err != nil {
		return fmt.Errorf("creating the deployment controller: %w", err)
	}

	esCfg := restclient.CopyConfig(cfg)
	restclient.AddUserAgent(esCfg, "endpointslice-controller")
	esCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return sliceUpdates{next: rt} })
	esClient, err := kubernetes.NewForConfig(esCfg)
	if err != nil {
		return err
	}
	esc := endpointslice.NewController(ctx, factory.Core().V1().Pods(), factory.Core().V1().Services(), factory.Core().V1().Nodes(),
		factory.Discovery().V1().EndpointSlices(), 100, esClient, 0)

	jobClient, err := newClient("job-controller")
	if err != nil {
		return err
	}
	jc, err := job.NewController(ctx, jobClient, factory.Core().V1().Pods(), factory.Batch().V1().Jobs(), nil, nil)
	if err != nil {
		return fmt.Errorf("creating the job controller: %w", err)
	}

	saClient, err := newClient("serviceaccount-controller")
	if err != nil {
		return err
	}
	sac, err := serviceaccount.NewServiceAccountsController(logger, factory.Core().V1().ServiceAccounts(), factory.Core().V1().Namespaces(), saClient,
		serviceaccount.DefaultServiceAccountsControllerOptions())
	if err != nil {
		return fmt.Errorf("creating the serviceaccount controller: %w", err)
	}

	gcCfg := restclient.CopyConfig(cfg)
	restclient.AddUserAgent(gcCfg, "generic-garbage-collector")
	gcClient, err := kubernetes.NewForConfig(gcCfg)
	if err != nil {
		return err
	}
	metadataClient, err := metadata.NewForConfig(gcCfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cacheddiscovery.NewMemCacheClient(gcClient.Discovery()))
	mapper.Reset()
	metadataInformers := metadatainformer.NewSharedInformerFactory(metadataClient, 0)
	informersStarted := make(chan struct{})
	gc, err := garbagecollector.NewGarbageCollector(ctx, gcClient, metadataClient, mapper, garbagecollector.DefaultIgnoredResources(),
		informerfactory.NewInformerFactory(factory, metadataInformers), informersStarted)
	if err != nil {
		return fmt.Errorf("creating the garbage collector: %w", err)
	}

	pdbClient, err := newClient("disruption-controller")
	if err != nil {
		return err
	}
	scaleClient, err := scale.NewForConfig(gcCfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(gcClient.Discovery()))
	if err != nil {
		return err
	}
	pdbc := disruption.NewDisruptionController(ctx, factory.Core().V1().Pods(), factory.Policy().V1().PodDisruptionBudgets(),
		factory.Core().V1().ReplicationControllers(), factory.Apps().V1().ReplicaSets(), factory.Apps().V1().Deployments(),
		factory.Apps().V1().StatefulSets(), pdbClient, mapper, scaleClient, pdbClient.Discovery())

	nsClient, err := newClient("namespace-controller")
	if err != nil {
		return err
	}
	nsMetadata, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	nsc := namespace.NewNamespaceController(ctx, nsClient, nsMetadata, nsClient.Discovery().ServerPreferredNamespacedResources,
		factory.Core().V1().Namespaces(), 5*time.Minute, v1.FinalizerKubernetes)

	factory.Start(ctx.Done())
	metadataInformers.Start(ctx.Done())
	close(informersStarted)

	run := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	run(func() { rsc.Run(ctx, 5) })
	run(func() { dc.Run(ctx, 5) })
	run(func() { esc.Run(ctx, 5) })
	run(func() { jc.Run(ctx, 5) })
	run(func() { sac.Run(ctx, 1) })
	run(func() { nsc.Run(ctx, 5) })
	run(func() { pdbc.Run(ctx, 2) })
	run(func() { wait.UntilWithContext(ctx, func(context.Context) { mapper.Reset() }, controllerSyncPeriod) })
	run(func() { gc.Run(ctx, 5, controllerSyncPeriod) })
	run(func() { gc.Sync(ctx, gcClient.Discovery(), controllerSyncPeriod) })
	run(func() {
		<-ctx.Done()
		factory.Shutdown()
		metadataInformers.Shutdown()
	})
	return nil
}
