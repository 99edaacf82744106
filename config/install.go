package config

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/rampdev/ramp/internal/manifest"
)

// Namespace is where the controller, its ServiceAccount and its Lease live.
const Namespace = "ramp-system"

// ServiceAccount is the controller's identity.
const ServiceAccount = "ramp-controller"

// Username is the name the API server knows the controller's ServiceAccount
// by, for impersonation.
const Username = "system:serviceaccount:" + Namespace + ":" + ServiceAccount

//go:embed default rbac manager namespaced dashboard dashboard-proxy crd/kustomization.yaml crd/bases
var manifests embed.FS

// Objects renders config/default and returns its objects in kustomize's
// order (namespaces and CRDs first).
func Objects() ([]*unstructured.Unstructured, error) {
	return render("/config/default", nil)
}

// Namespaced renders config/namespaced for namespace: the controller of one
// namespace, with Roles only (no CRDs: a cluster administrator installs
// them).
func Namespaced(namespace string) ([]*unstructured.Unstructured, error) {
	overlay := fmt.Sprintf("namespace: %s\nresources:\n- ../namespaced\n", namespace)
	return render("/config/overlay", map[string]string{"/config/overlay/kustomization.yaml": overlay})
}

// Dashboard renders config/dashboard, or config/dashboard-proxy (the
// dashboard behind an authenticating proxy) when proxy is set.
func Dashboard(proxy bool) ([]*unstructured.Unstructured, error) {
	if proxy {
		return render("/config/dashboard-proxy", nil)
	}
	return render("/config/dashboard", nil)
}

// render builds the kustomization in dir (within the embedded config, with
// extra files added) into its objects.
func render(dir string, extra map[string]string) ([]*unstructured.Unstructured, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(manifests, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := manifests.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/config", p), b)
	})
	if err != nil {
		return nil, err
	}
	for p, content := range extra {
		if err := mem.WriteFile(p, []byte(content)); err != nil {
			return nil, err
		}
	}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy // as kubectl: namespaces and CRDs first
	res, err := krusty.MakeKustomizer(opts).Run(mem, dir)
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", strings.TrimPrefix(dir, "/"), err)
	}
	out, err := res.AsYaml()
	if err != nil {
		return nil, err
	}
	docs, err := manifest.Split(strings.TrimPrefix(dir, "/"), out)
	if err != nil {
		return nil, err
	}
	objs := make([]*unstructured.Unstructured, len(docs))
	for i, d := range docs {
		objs[i] = &unstructured.Unstructured{Object: d.Object}
	}
	return objs, nil
}
