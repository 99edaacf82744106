package metrics_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/metrics"
)

// dashboardFile is the Grafana dashboard Ramp ships.
const dashboardFile = "../../config/grafana/ramp-rollouts.json"

// dashboard is the part of Grafana's dashboard JSON that holds queries.
type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// queries are the dashboard's PromQL expressions, by where they are: every
// panel target, and the selector inside each label_values() variable.
func (d *dashboard) queries() map[string]string {
	out := map[string]string{}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			out[fmt.Sprintf("panel %q target %d", p.Title, i)] = tg.Expr
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		q, _ := v.Query.(string)
		if v.Type != "query" {
			continue
		}
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		out["variable "+v.Name] = q
	}
	return out
}

// grafanaVariables are replaced as Grafana would with "All" selected.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "1m", "$namespace", ".*", "$rollout", ".*")

// promQLCheck asks the real Prometheus to evaluate expr: a parse error is
// a 400 with errorType bad_data.
func promQLCheck(expr string) error {
	resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(grafanaVariables.Replace(expr)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var answer struct {
		Status, ErrorType, Error string
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	if answer.Status != "success" {
		return fmt.Errorf("%s: %s", answer.ErrorType, answer.Error)
	}
	return nil
}

// Every query of the Grafana dashboard parses as PromQL (the real
// Prometheus evaluates it) and names only metrics the controller exports
// (as its /metrics shows them).
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	queries := d.queries()
	if d.UID == "" || len(queries) < 10 {
		t.Fatalf("%s: uid %q and %d queries", dashboardFile, d.UID, len(queries))
	}
	// Exported: what the controller's /metrics shows (controller-runtime's
	// own metrics, which appear once used), and every series Ramp's
	// collector describes (those of objects appear with the objects).
	exported := map[string]bool{}
	clustertest.Eventually(t, 60*time.Second, "the controller exports its metrics", func() (bool, string) {
		for name := range scrape(t) {
			exported[name] = true
		}
		return exported["ramp_controller_info"] && exported["workqueue_adds_total"], "no ramp_controller_info or workqueue_adds_total"
	})
	for _, name := range described() {
		exported[name] = true
	}
	known := func(name string) bool {
		if exported[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && exported[base] {
				return true
			}
		}
		return false
	}
	for where, expr := range queries {
		if err := promQLCheck(expr); err != nil {
			t.Errorf("%s: %q does not parse: %v", where, expr, err)
		}
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, name := range names {
			if !known(name) {
				t.Errorf("%s: %q names %s, which the controller does not export", where, expr, name)
			}
		}
	}

	// The checks can fail.
	if err := promQLCheck(`sum by (phase (rollout_info)`); err == nil {
		t.Error("a query that does not parse passed")
	}
	if names := metricNames(`sum by (le) (rate(rollout_reconcile_bucket{name=~"$rollout"}[$__rate_interval])) / on (name) rollout_infoo`); !slices.Equal(names, []string{"rollout_reconcile_bucket", "rollout_infoo"}) || known("rollout_infoo") {
		t.Errorf("names %v; rollout_infoo known: %v", names, known("rollout_infoo"))
	}
}

// described are the names of the metrics Ramp's collector describes.
func described() []string {
	ch := make(chan *prometheus.Desc, 100)
	go func() { metrics.New(metrics.Options{}).Describe(ch); close(ch) }()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	var names []string
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

// promQLKeywords are words of PromQL that are not metric names:
// operators, aggregations (which may be followed by "by"), and the words
// followed by a label list.
var promQLKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
	"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// labelLists are the words followed by a list of label names.
var labelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// metricNames are the metric names expr selects: identifiers outside label
// matchers, ranges and strings that are neither functions (followed by "(")
// nor keywords, nor in the label lists of by/without/on/ignoring/group_*.
func metricNames(expr string) []string {
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '{' || c == '[':
			end := map[byte]byte{'{': '}', '[': ']'}[c]
			j := i + 1
			for j < len(expr) && expr[j] != end {
				if expr[j] == '"' {
					j++
					for j < len(expr) && expr[j] != '"' {
						if expr[j] == '\\' {
							j++
						}
						j++
					}
				}
				j++
			}
			i = j + 1
		case c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			j := i
			for j < len(expr) && (expr[j] == '_' || expr[j] == ':' || (expr[j]|0x20 >= 'a' && expr[j]|0x20 <= 'z') || (expr[j] >= '0' && expr[j] <= '9')) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			call := k < len(expr) && expr[k] == '('
			switch {
			case labelLists[strings.ToLower(word)] && call:
				// A label list: skip it.
				for k < len(expr) && expr[k] != ')' {
					k++
				}
				j = k + 1
			case call, promQLKeywords[strings.ToLower(word)], labelLists[strings.ToLower(word)]:
			default:
				names = append(names, word)
			}
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(expr) && (expr[j] == '.' || expr[j] == 'e' || (expr[j] >= '0' && expr[j] <= '9')) {
				j++
			}
			i = j
		default:
			i++
		}
	}
	return names
}
