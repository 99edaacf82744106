package cluster

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// sliceUpdates lets the endpointslice controller update EndpointSlices
// served by a CRD. The controller updates some slices without a
// resourceVersion, which the built-in API accepts (an unconditional
// update) and a custom resource refuses ("metadata.resourceVersion: must
// be specified for an update"): a slice created before its Service had
// pods then stayed empty. For such a PUT this transport reads the slice's
// current resourceVersion and sends it along; the controller is the
// slices' only writer, so nothing is overwritten that it did not mean to.
type sliceUpdates struct{ next http.RoundTripper }

func (t sliceUpdates) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/endpointslices/") || req.Body == nil {
		return t.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil {
		meta, _ := obj["metadata"].(map[string]any)
		if rv, _ := meta["resourceVersion"].(string); meta != nil && (rv == "" || rv == "0") {
			if current := t.resourceVersion(req); current != "" {
				meta["resourceVersion"] = current
				if b, err := json.Marshal(obj); err == nil {
					body = b
				}
			}
		}
	}
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return t.next.RoundTrip(req)
}

// resourceVersion reads the slice's current resourceVersion, or "".
func (t sliceUpdates) resourceVersion(put *http.Request) string {
	get, err := http.NewRequestWithContext(put.Context(), http.MethodGet, put.URL.String(), nil)
	if err != nil {
		return ""
	}
	get.Header = put.Header.Clone()
	get.Header.Del("Content-Type")
	resp, err := t.next.RoundTrip(get)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var obj struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&obj) != nil {
		return ""
	}
	return obj.Metadata.ResourceVersion
}
