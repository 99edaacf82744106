// Command crdtrim removes the field descriptions of the Kubernetes types that
// Ramp's CRDs embed (PodSpec, JobSpec) from the YAML files controller-gen
// wrote into the directory given as argument. Ramp's own fields keep their
// descriptions, for `kubectl explain`; the embedded types are documented by
// Kubernetes. Without this the Rollout CRD is too large for `kubectl apply`,
// whose last-applied annotation is limited to 256 KiB.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: crdtrim DIR")
		os.Exit(2)
	}
	files, err := filepath.Glob(filepath.Join(os.Args[1], "*.yaml"))
	if err != nil || len(files) == 0 {
		fmt.Fprintln(os.Stderr, "crdtrim: no YAML files in", os.Args[1], err)
		os.Exit(1)
	}
	for _, f := range files {
		if err := trimFile(f); err != nil {
			fmt.Fprintln(os.Stderr, "crdtrim:", f, err)
			os.Exit(1)
		}
	}
}

func trimFile(path string) error {
	in, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(in, &doc); err != nil {
		return err
	}
	walk(doc, false)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	out = append([]byte("---\n"), out...)
	if bytes.Equal(in, out) {
		return nil
	}
	return os.WriteFile(path, out, 0o644)
}

// walk drops descriptions below any schema that is a PodSpec or a JobSpec.
func walk(node any, strip bool) {
	switch n := node.(type) {
	case map[string]any:
		if props, ok := n["properties"].(map[string]any); ok {
			if _, ok := props["containers"]; ok {
				strip = true
			}
			if _, ok := props["backoffLimit"]; ok {
				strip = true
			}
		}
		if strip {
			if _, ok := n["description"].(string); ok {
				delete(n, "description")
			}
		}
		for _, v := range n {
			walk(v, strip)
		}
	case []any:
		for _, v := range n {
			walk(v, strip)
		}
	}
}
