package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Document is one object of a manifest file.
type Document struct {
	// Source is the file's base name and the document's index in it.
	Source string
	// Object is the decoded document.
	Object map[string]any
}

// Kind is the document's kind, or "".
func (d Document) Kind() string { s, _ := d.Object["kind"].(string); return s }

// Name is the document's metadata.name, or "".
func (d Document) Name() string {
	m, _ := d.Object["metadata"].(map[string]any)
	s, _ := m["name"].(string)
	return s
}

// JSON is the document encoded as JSON.
func (d Document) JSON() ([]byte, error) { return json.Marshal(d.Object) }

// Split decodes every non-empty document of data.
func Split(source string, data []byte) ([]Document, error) {
	var out []Document
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("%s: document %d: %w", source, i+1, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, Document{Source: fmt.Sprintf("%s#%d", source, i+1), Object: m})
	}
}

// ReadFiles reads and splits every file matching the glob pattern, in name
// order.
func ReadFiles(pattern string) ([]Document, error) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no file matches %s", pattern)
	}
	sort.Strings(files)
	var out []Document
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		docs, err := Split(filepath.Base(f), b)
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}
