package demo

import (
	"context"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/internal/manifest"
)

//go:embed demo.yaml
var manifests []byte

// placeholder is the Prometheus address in demo.yaml.
const placeholder = "http://prometheus.sandbox.invalid:9090"

// Rollouts are the demo rollouts and the Services the traffic goes to.
var (
	Rollouts = []string{"demo-canary", "demo-bluegreen"}
	Targets  = []string{"demo-canary", "demo-bluegreen", "demo-bluegreen-preview"}
)

// Install creates the demo's templates, Services and rollouts in
// namespace, the analysis pointed at prometheus; what exists already (a
// restarted sandbox) is left as it is.
func Install(ctx context.Context, cl client.Client, namespace, prometheus string) error {
	docs, err := manifest.Split("demo.yaml", []byte(strings.ReplaceAll(string(manifests), placeholder, prometheus)))
	if err != nil {
		return err
	}
	for _, d := range docs {
		u := &unstructured.Unstructured{Object: d.Object}
		u.SetNamespace(namespace)
		err := cl.Create(ctx, u)
		if apierrors.IsAlreadyExists(err) && d.Kind() == "AnalysisTemplate" {
			// A restarted sandbox's Prometheus has a new address.
			have := &unstructured.Unstructured{}
			have.SetGroupVersionKind(u.GroupVersionKind())
			if err = cl.Get(ctx, client.ObjectKeyFromObject(u), have); err == nil {
				have.Object["spec"] = u.Object["spec"]
				err = cl.Update(ctx, have)
			}
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s %s: %w", d.Kind(), d.Name(), err)
		}
	}
	return nil
}

// Traffic sends rps requests a second, spread over the Services' listeners
// (a new connection each, so the spread follows the pods), until ctx ends.
func Traffic(ctx context.Context, svcs *Services, namespace string, rps int) {
	if rps <= 0 {
		return
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	tick := time.NewTicker(time.Second / time.Duration(rps))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		addr := svcs.Address(namespace, Targets[rand.IntN(len(Targets))])
		if addr == "" {
			continue
		}
		go func() {
			resp, err := client.Get("http://" + addr + "/")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
}
