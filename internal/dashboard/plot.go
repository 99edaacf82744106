package dashboard

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/operate"
)

// runPageView is an AnalysisRun's page: each metric with its conditions,
// its measurements and their plot.
type runPageView struct {
	Run     *v1alpha1.AnalysisRun
	Phase   string
	Summary string
	Rollout string
	Metrics []metricView
}

type metricView struct {
	Name, Phase, Provider, Success, Failure, Message string
	Measurements                                     []measurementView
	// Plot is an SVG of the numeric measurements over time, with the
	// thresholds the conditions compare against; empty without numbers.
	Plot template.HTML
}

type measurementView struct {
	At, Value, Phase, Message string
}

func runPageOf(run *v1alpha1.AnalysisRun) runPageView {
	v := runPageView{Run: run, Phase: operate.RunPhase(run), Summary: operate.RunSummary(run)}
	for _, ref := range run.OwnerReferences {
		if ref.Kind == "Rollout" {
			v.Rollout = ref.Name
		}
	}
	specs := map[string]v1alpha1.Metric{}
	for _, m := range run.Spec.Metrics {
		specs[m.Name] = m
	}
	for _, res := range run.Status.MetricResults {
		spec := specs[res.Name]
		mv := metricView{Name: res.Name, Phase: string(res.Phase), Provider: providerName(spec.Provider),
			Success: spec.SuccessCondition, Failure: spec.FailureCondition, Message: res.Message}
		for _, m := range res.Measurements {
			mv.Measurements = append(mv.Measurements, measurementView{At: measuredAt(m).UTC().Format("15:04:05"), Value: m.Value, Phase: string(m.Phase), Message: m.Message})
		}
		mv.Plot = plot(res.Name, res.Measurements, spec)
		v.Metrics = append(v.Metrics, mv)
	}
	return v
}

// providerName is the provider a metric names (its one set field).
func providerName(p v1alpha1.MetricProvider) string {
	b, _ := json.Marshal(p)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func measuredAt(m v1alpha1.Measurement) time.Time {
	if m.FinishedAt != nil {
		return m.FinishedAt.Time
	}
	if m.StartedAt != nil {
		return m.StartedAt.Time
	}
	return time.Time{}
}

// number reads a measurement's value: a number, or the first of a vector
// ("[0.97]", "[0.97 0.5]").
func number(s string) (float64, bool) {
	s = strings.Trim(strings.TrimSpace(s), "[]")
	if f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }); len(f) > 0 {
		s = f[0]
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil && !math.IsNaN(v) && !math.IsInf(v, 0)
}

// threshold finds the number a condition compares the result with
// ("result[0] >= 0.95" → 0.95).
var threshold = regexp.MustCompile(`(?:<=|>=|<|>|==)\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)`)

type line struct {
	value float64
	label string
	class string
}

// plot draws the numeric measurements over time, coloured by their phase,
// against the thresholds of the success and failure conditions.
func plot(name string, ms []v1alpha1.Measurement, spec v1alpha1.Metric) template.HTML {
	type point struct {
		t     time.Time
		v     float64
		phase string
		raw   string
	}
	var pts []point
	for _, m := range ms {
		if v, ok := number(m.Value); ok {
			pts = append(pts, point{measuredAt(m), v, string(m.Phase), m.Value})
		}
	}
	if len(pts) == 0 {
		return ""
	}
	var lines []line
	for _, c := range []struct{ cond, class string }{{spec.SuccessCondition, "success"}, {spec.FailureCondition, "failure"}} {
		for _, m := range threshold.FindAllStringSubmatch(c.cond, -1) {
			if v, err := strconv.ParseFloat(m[1], 64); err == nil {
				lines = append(lines, line{v, c.class + ": " + c.cond, c.class})
			}
		}
	}
	// The scale works on halves, so that any two finite values have a
	// finite span.
	lo, hi := pts[0].v/2, pts[0].v/2
	for _, p := range pts {
		lo, hi = math.Min(lo, p.v/2), math.Max(hi, p.v/2)
	}
	for _, l := range lines {
		lo, hi = math.Min(lo, l.value/2), math.Max(hi, l.value/2)
	}
	if hi == lo {
		d := math.Max(math.Abs(hi)*0.1, 0.5)
		hi, lo = hi+d, lo-d
	}
	pad := (hi - lo) * 0.1
	top2, bottom2 := hi+pad, lo-pad
	t0, t1 := pts[0].t, pts[len(pts)-1].t
	span := t1.Sub(t0).Seconds()
	const w, h, left, right, top, bottom = 640.0, 200.0, 56.0, 12.0, 12.0, 28.0
	x := func(t time.Time) float64 {
		if span <= 0 {
			return left + (w-left-right)/2
		}
		return left + t.Sub(t0).Seconds()/span*(w-left-right)
	}
	y := func(v float64) float64 { return top + (top2-v/2)/(top2-bottom2)*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="plot-%s-title">`, w, h, esc(name))
	fmt.Fprintf(&b, `<title id="plot-%s-title">%s: %d measurements over time</title>`, esc(name), esc(name), len(pts))
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, left, top, left, h-bottom)
	for _, v := range []float64{hi * 2, lo * 2} {
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, left-4, y(v)+4, strconv.FormatFloat(v, 'g', 4, 64))
	}
	fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f">%s</text>`, left, h-8, t0.UTC().Format("15:04:05"))
	fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, w-right, h-8, t1.UTC().Format("15:04:05"))
	for _, l := range lines {
		fmt.Fprintf(&b, `<line class="threshold %s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"><title>%s</title></line>`, l.class, left, y(l.value), w-right, y(l.value), esc(l.label))
	}
	var path []string
	for _, p := range pts {
		path = append(path, fmt.Sprintf("%.1f,%.1f", x(p.t), y(p.v)))
	}
	fmt.Fprintf(&b, `<polyline class="series" points="%s"/>`, strings.Join(path, " "))
	for _, p := range pts {
		fmt.Fprintf(&b, `<circle class="point %s" cx="%.1f" cy="%.1f" r="4" data-value="%s"><title>%s at %s: %s</title></circle>`,
			statusClass(p.phase), x(p.t), y(p.v), esc(p.raw), esc(p.raw), p.t.UTC().Format("15:04:05"), esc(p.phase))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every value above is escaped
}

// esc is s as SVG text: escaped, without control characters or invalid
// UTF-8 (which a provider's value or a template's condition may carry).
func esc(s string) string {
	return html.EscapeString(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || (r >= 0xfffe && r <= 0xffff) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "")))
}
