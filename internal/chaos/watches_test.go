package chaos_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/prometheustest"
)

// watchInvariants checks iv on every event of the chaos namespace's
// ReplicaSets, served Services, Rollouts, AnalysisRuns, HTTPRoutes and
// Ingresses, from the moment it returns until the returned function is
// called.
// ingressSeen, when set, is told of every Ingress event (the AWS Load
// Balancer Controller's part).
func watchInvariants(t *testing.T, cfg *rest.Config, iv *invariants, ingressSeen func(*networkingv1.Ingress)) func() {
	t.Helper()
	ctx := t.Context()
	watch, err := cache.New(cfg, cache.Options{Scheme: chaosScheme(), DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		t.Fatal(err)
	}
	aborted := func(name string) bool {
		ro := &v1alpha1.Rollout{}
		return watch.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ro) == nil && ro.Status.Abort
	}
	on := func(obj client.Object, handle func(o any, deleted bool)) {
		inf, err := watch.GetInformer(ctx, obj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { handle(o, false) },
			UpdateFunc: func(_, o any) { handle(o, false) },
			DeleteFunc: func(o any) {
				if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				handle(o, true)
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	on(&appsv1.ReplicaSet{}, func(o any, deleted bool) {
		if rs, ok := o.(*appsv1.ReplicaSet); ok {
			iv.replicaSet(rs, deleted)
		}
	})
	on(&corev1.Service{}, func(o any, deleted bool) {
		svc, ok := o.(*corev1.Service)
		if !ok || deleted {
			return
		}
		for _, m := range iv.fleet.members {
			if served := m.kind.served; served != "" && svc.Name == m.name+served {
				iv.service(svc, m.name, aborted)
			}
		}
	})
	on(&v1alpha1.Rollout{}, func(o any, deleted bool) {
		if ro, ok := o.(*v1alpha1.Rollout); ok && !deleted {
			iv.rollout(ro)
		}
	})
	on(&v1alpha1.AnalysisRun{}, func(o any, deleted bool) {
		if run, ok := o.(*v1alpha1.AnalysisRun); ok && !deleted {
			iv.analysisRun(run)
		}
	})
	on(&batchv1.Job{}, func(o any, deleted bool) {
		if j, ok := o.(*batchv1.Job); ok {
			iv.job(j, deleted)
		}
	})
	on(&gwv1.HTTPRoute{}, func(o any, deleted bool) {
		if r, ok := o.(*gwv1.HTTPRoute); ok && !deleted {
			if m, ok := iv.fleet.byName[r.Name]; ok && m.kind.weights != nil {
				if w, found := routeWeight(r, r.Name+"-canary"); found {
					iv.weight("HTTPRoute "+r.Name, r.Name, w, m.kind.weights)
				}
			}
		}
	})
	on(&networkingv1.Ingress{}, func(o any, deleted bool) {
		if ing, ok := o.(*networkingv1.Ingress); ok && !deleted {
			if ingressSeen != nil {
				ingressSeen(ing)
			}
			if m, ok := iv.fleet.byName[ing.Name]; ok && m.kind.weights != nil {
				if w, found := albWeight(ing, ing.Name+"-stable", ing.Name+"-canary"); found {
					iv.weight("Ingress "+ing.Name, ing.Name, w, m.kind.weights)
				}
			}
		}
	})
	watchCtx, stop := context.WithCancel(ctx)
	go func() { _ = watch.Start(watchCtx) }()
	if !watch.WaitForCacheSync(ctx) {
		t.Fatal("the watches did not sync")
	}
	return stop
}

// startPrometheus runs a real Prometheus scraping the quality exporter and
// returns its address once it has data.
func startPrometheus(t *testing.T, dir string) string {
	t.Helper()
	exp := qualityExporter()
	t.Cleanup(exp.Close)
	srv, err := prometheustest.Start(t.Context(), dir, strings.TrimPrefix(exp.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	clustertest.Eventually(t, 30*time.Second, "Prometheus has scraped the exporter", func() (bool, string) {
		resp, err := http.Get(srv.URL + "/api/v1/query?query=" + url.QueryEscape(`chaos_release_quality`))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `"good"`), string(body)
	})
	return srv.URL
}
