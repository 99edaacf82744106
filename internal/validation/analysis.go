package validation

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
)

// AnalysisTemplate returns every violation in an AnalysisTemplate's spec.
func AnalysisTemplate(t *v1alpha1.AnalysisTemplate) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "an AnalysisTemplate")}
	}
	return AnalysisTemplateSpec(&t.Spec, field.NewPath("spec"))
}

// ClusterAnalysisTemplate returns every violation in a
// ClusterAnalysisTemplate's spec.
func ClusterAnalysisTemplate(t *v1alpha1.ClusterAnalysisTemplate) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "a ClusterAnalysisTemplate")}
	}
	return AnalysisTemplateSpec(&t.Spec, field.NewPath("spec"))
}

// AnalysisTemplateSpec returns every violation in spec, whose path is path.
func AnalysisTemplateSpec(spec *v1alpha1.AnalysisTemplateSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Metrics) == 0 && len(spec.Templates) == 0 {
		errs = append(errs, field.Required(path.Child("metrics"), "at least one metric, or templates to take metrics from"))
	}
	for i, t := range spec.Templates {
		if t.TemplateName == "" {
			errs = append(errs, field.Required(path.Child("templates").Index(i).Child("templateName"), "the name of a template to nest"))
		}
	}
	names, e := metrics(spec.Metrics, path.Child("metrics"))
	errs = append(errs, e...)
	if len(spec.Templates) > 0 {
		names = nil // nested templates may define the metrics dryRun names
	}
	errs = append(errs, args(spec.Args, path.Child("args"))...)
	errs = append(errs, dryRunAndRetention(spec.DryRun, spec.MeasurementRetention, names, path)...)
	return errs
}

// AnalysisRun returns every violation in an AnalysisRun's spec.
func AnalysisRun(run *v1alpha1.AnalysisRun) field.ErrorList {
	if run == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "an AnalysisRun")}
	}
	path := field.NewPath("spec")
	var errs field.ErrorList
	if len(run.Spec.Metrics) == 0 {
		errs = append(errs, field.Required(path.Child("metrics"), "at least one metric"))
	}
	names, e := metrics(run.Spec.Metrics, path.Child("metrics"))
	errs = append(errs, e...)
	errs = append(errs, args(run.Spec.Args, path.Child("args"))...)
	errs = append(errs, dryRunAndRetention(run.Spec.DryRun, run.Spec.MeasurementRetention, names, path)...)
	if ttl := run.Spec.TTLStrategy; ttl != nil {
		p := path.Child("ttlStrategy")
		errs = append(errs, nonNegative(ttl.SecondsAfterCompletion, p.Child("secondsAfterCompletion"))...)
		errs = append(errs, nonNegative(ttl.SecondsAfterSuccess, p.Child("secondsAfterSuccess"))...)
		errs = append(errs, nonNegative(ttl.SecondsAfterFailure, p.Child("secondsAfterFailure"))...)
	}
	return errs
}

// Experiment returns every violation in an Experiment's spec.
func Experiment(exp *v1alpha1.Experiment) field.ErrorList {
	if exp == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "an Experiment")}
	}
	path := field.NewPath("spec")
	spec := &exp.Spec
	var errs field.ErrorList
	errs = append(errs, duration(spec.Duration, path.Child("duration"))...)
	if d := spec.ProgressDeadlineSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(path.Child("progressDeadlineSeconds"), *d, "must be greater than 0"))
	}
	errs = append(errs, nonNegative(spec.ScaleDownDelaySeconds, path.Child("scaleDownDelaySeconds"))...)
	if len(spec.Templates) == 0 {
		errs = append(errs, field.Required(path.Child("templates"), "at least one template"))
	}
	seen := nameSet{}
	for i := range spec.Templates {
		t := &spec.Templates[i]
		p := path.Child("templates").Index(i)
		errs = append(errs, seen.check(t.Name, p.Child("name"), "a template name")...)
		errs = append(errs, nonNegative(t.Replicas, p.Child("replicas"))...)
		if len(t.Template.Spec.Containers) == 0 {
			errs = append(errs, field.Required(p.Child("template", "spec", "containers"), "at least one container"))
		}
		errs = append(errs, templateService(t, p)...)
		if t.Selector == nil {
			errs = append(errs, field.Required(p.Child("selector"), "a selector matching the template's labels"))
			continue
		}
		sel, e := selectorValid(t.Selector, p.Child("selector"))
		errs = append(errs, e...)
		if sel != nil && !sel.Matches(labels.Set(t.Template.Labels)) {
			errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), t.Template.Labels, "must match the template's selector "+sel.String()))
		}
	}
	aseen := nameSet{}
	for i, a := range spec.Analyses {
		p := path.Child("analyses").Index(i)
		errs = append(errs, aseen.check(a.Name, p.Child("name"), "an analysis name")...)
		if a.TemplateName == "" {
			errs = append(errs, field.Required(p.Child("templateName"), "the name of an AnalysisTemplate"))
		}
		errs = append(errs, args(a.Args, p.Child("args"))...)
	}
	errs = append(errs, dryRunAndRetention(spec.DryRun, spec.MeasurementRetention, nil, path)...)
	return errs
}

// templateService checks an experiment template's Service: a valid name,
// and a container port to serve.
func templateService(t *v1alpha1.TemplateSpec, p *field.Path) field.ErrorList {
	if t.Service == nil {
		return nil
	}
	var errs field.ErrorList
	if n := t.Service.Name; n != "" {
		for _, msg := range k8svalidation.IsDNS1035Label(n) {
			errs = append(errs, field.Invalid(p.Child("service", "name"), n, msg))
		}
	}
	for _, c := range t.Template.Spec.Containers {
		if len(c.Ports) > 0 {
			return errs
		}
	}
	return append(errs, field.Required(p.Child("template", "spec", "containers").Index(0).Child("ports"), "a container port for the template's Service to serve"))
}

// args checks template and run arguments.
func args(list []v1alpha1.Argument, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := nameSet{}
	for i, a := range list {
		p := path.Index(i)
		errs = append(errs, seen.check(a.Name, p.Child("name"), "an argument name")...)
		vf := a.ValueFrom
		if vf == nil {
			continue
		}
		if a.Value != nil {
			errs = append(errs, field.Forbidden(p, "value and valueFrom are mutually exclusive"))
		}
		if (vf.SecretKeyRef == nil) == (vf.FieldRef == nil) {
			errs = append(errs, field.Invalid(p.Child("valueFrom"), "", "exactly one of secretKeyRef or fieldRef must be set"))
		}
		if s := vf.SecretKeyRef; s != nil && (s.Name == "" || s.Key == "") {
			errs = append(errs, field.Required(p.Child("valueFrom", "secretKeyRef"), "name and key"))
		}
		if vf.FieldRef != nil {
			errs = append(errs, fieldPath(vf.FieldRef.FieldPath, p.Child("valueFrom", "fieldRef", "fieldPath"))...)
		}
	}
	return errs
}

// condition compiles a success or failure condition, as the controller
// will; the error names the position of the mistake. A condition with
// {{args.x}} placeholders is checked once they are substituted, when the
// run measures.
func condition(src string, path *field.Path) field.ErrorList {
	if src == "" || strings.Contains(src, "{{") {
		return nil
	}
	if _, err := analysis.Compile(src); err != nil {
		return field.ErrorList{field.Invalid(path, src, err.Error())}
	}
	return nil
}

// metrics checks each metric and returns the set of their names.
func metrics(list []v1alpha1.Metric, path *field.Path) (map[string]bool, field.ErrorList) {
	var errs field.ErrorList
	names := nameSet{}
	for i := range list {
		m := &list[i]
		p := path.Index(i)
		errs = append(errs, names.check(m.Name, p.Child("name"), "a metric name")...)
		errs = append(errs, metric(m, p)...)
	}
	return names, errs
}

func metric(m *v1alpha1.Metric, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, duration(m.Interval, path.Child("interval"))...)
	errs = append(errs, duration(m.InitialDelay, path.Child("initialDelay"))...)
	errs = append(errs, condition(m.SuccessCondition, path.Child("successCondition"))...)
	errs = append(errs, condition(m.FailureCondition, path.Child("failureCondition"))...)
	count, countKnown, e := intOrArg(m.Count, 0, path.Child("count"))
	errs = append(errs, e...)
	if countKnown && count > 1 && m.Interval == "" {
		errs = append(errs, field.Required(path.Child("interval"), "a metric with count > 1 needs an interval"))
	}
	failureLimit, failureKnown, e := intOrArg(m.FailureLimit, -1, path.Child("failureLimit"))
	errs = append(errs, e...)
	inconclusiveLimit, inconclusiveKnown, e := intOrArg(m.InconclusiveLimit, 0, path.Child("inconclusiveLimit"))
	errs = append(errs, e...)
	_, _, e = intOrArg(m.ConsecutiveErrorLimit, 0, path.Child("consecutiveErrorLimit"))
	errs = append(errs, e...)
	successLimit, successKnown, e := intOrArg(m.ConsecutiveSuccessLimit, 0, path.Child("consecutiveSuccessLimit"))
	errs = append(errs, e...)
	if failureKnown && failureLimit == -1 && m.ConsecutiveSuccessLimit != nil && successKnown && successLimit == 0 {
		errs = append(errs, field.Invalid(path.Child("consecutiveSuccessLimit"), successLimit, "must be greater than 0 when failureLimit is -1"))
	}
	if failureKnown && failureLimit == -1 && m.ConsecutiveSuccessLimit == nil {
		errs = append(errs, field.Required(path.Child("consecutiveSuccessLimit"), "required when failureLimit is -1, or the metric can never fail nor succeed"))
	}
	if countKnown && count > 0 {
		if failureKnown && failureLimit > count {
			errs = append(errs, field.Invalid(path.Child("failureLimit"), failureLimit, fmt.Sprintf("must not exceed count (%d)", count)))
		}
		if inconclusiveKnown && inconclusiveLimit > count {
			errs = append(errs, field.Invalid(path.Child("inconclusiveLimit"), inconclusiveLimit, fmt.Sprintf("must not exceed count (%d)", count)))
		}
		if successKnown && successLimit > count {
			errs = append(errs, field.Invalid(path.Child("consecutiveSuccessLimit"), successLimit, fmt.Sprintf("must not exceed count (%d)", count)))
		}
	}
	errs = append(errs, provider(&m.Provider, path.Child("provider"))...)
	return errs
}

func provider(p *v1alpha1.MetricProvider, path *field.Path) field.ErrorList {
	var set []string
	for name, on := range map[string]bool{
		"prometheus": p.Prometheus != nil, "kayenta": p.Kayenta != nil, "web": p.Web != nil, "datadog": p.Datadog != nil,
		"wavefront": p.Wavefront != nil, "newRelic": p.NewRelic != nil, "job": p.Job != nil, "cloudWatch": p.CloudWatch != nil,
		"graphite": p.Graphite != nil, "influxdb": p.Influxdb != nil, "skywalking": p.SkyWalking != nil, "plugin": len(p.Plugin) > 0,
	} {
		if on {
			set = append(set, name)
		}
	}
	if len(set) != 1 {
		return field.ErrorList{field.Invalid(path, fmt.Sprintf("%d providers", len(set)),
			"exactly one of prometheus, kayenta, web, datadog, wavefront, newRelic, job, cloudWatch, graphite, influxdb, skywalking or plugin must be set")}
	}
	var errs field.ErrorList
	switch {
	case p.Prometheus != nil:
		errs = append(errs, prometheus(p.Prometheus, path.Child("prometheus"))...)
	case p.Web != nil:
		errs = append(errs, web(p.Web, path.Child("web"))...)
	case p.Datadog != nil:
		errs = append(errs, datadog(p.Datadog, path.Child("datadog"))...)
	case p.Job != nil:
		errs = append(errs, job(p.Job, path.Child("job"))...)
	case p.Kayenta != nil:
		errs = append(errs, kayenta(p.Kayenta, path.Child("kayenta"))...)
	case p.CloudWatch != nil:
		errs = append(errs, cloudWatch(p.CloudWatch, path.Child("cloudWatch"))...)
	case p.NewRelic != nil:
		errs = append(errs, required(p.NewRelic.Query, path.Child("newRelic", "query"), "an NRQL query")...)
	case p.Wavefront != nil:
		errs = append(errs, required(p.Wavefront.Query, path.Child("wavefront", "query"), "a query")...)
	case p.Graphite != nil:
		errs = append(errs, required(p.Graphite.Query, path.Child("graphite", "query"), "a query")...)
	case p.Influxdb != nil:
		errs = append(errs, required(p.Influxdb.Query, path.Child("influxdb", "query"), "a Flux query")...)
	case p.SkyWalking != nil:
		errs = append(errs, required(p.SkyWalking.Query, path.Child("skywalking", "query"), "a GraphQL query")...)
		errs = append(errs, duration(p.SkyWalking.Interval, path.Child("skywalking", "interval"))...)
	}
	return errs
}

func required(v string, path *field.Path, what string) field.ErrorList {
	if strings.TrimSpace(v) == "" {
		return field.ErrorList{field.Required(path, what)}
	}
	return nil
}

// address checks an http(s) URL that may hold {{args.x}} placeholders.
func address(a string, path *field.Path) field.ErrorList {
	if a == "" || strings.Contains(a, "{{") {
		return nil
	}
	u, err := url.Parse(a)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return field.ErrorList{field.Invalid(path, a, "must be an http:// or https:// URL")}
	}
	return nil
}

func authentication(a *v1alpha1.Authentication, path *field.Path) field.ErrorList {
	n := 0
	if a.Sigv4 != (v1alpha1.Sigv4Config{}) {
		n++
	}
	if a.OAuth2.TokenURL != "" || a.OAuth2.ClientID != "" || a.OAuth2.ClientSecret != "" || len(a.OAuth2.Scopes) > 0 {
		n++
		if a.OAuth2.TokenURL == "" {
			return field.ErrorList{field.Required(path.Child("oauth2", "tokenUrl"), "the token endpoint of the OAuth2 client-credentials flow")}
		}
	}
	if a.BasicAuth != (v1alpha1.BasicAuth{}) {
		n++
	}
	if n > 1 {
		return field.ErrorList{field.Invalid(path, "", "at most one of sigv4, oauth2 or basicAuth may be set")}
	}
	return nil
}

func prometheus(p *v1alpha1.PrometheusMetric, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, required(p.Query, path.Child("query"), "a PromQL query")...)
	errs = append(errs, address(p.Address, path.Child("address"))...)
	if p.Timeout != nil && *p.Timeout <= 0 {
		errs = append(errs, field.Invalid(path.Child("timeout"), *p.Timeout, "must be a positive number of seconds"))
	}
	errs = append(errs, authentication(&p.Authentication, path.Child("authentication"))...)
	for i, h := range p.Headers {
		if h.Key == "" {
			errs = append(errs, field.Required(path.Child("headers").Index(i).Child("key"), "a header name"))
		}
	}
	if r := p.RangeQuery; r != nil {
		if r.Start == "" || r.End == "" {
			errs = append(errs, field.Required(path.Child("rangeQuery"), "start and end"))
		}
		if r.Step != "" {
			errs = append(errs, duration(v1alpha1.DurationString(r.Step), path.Child("rangeQuery", "step"))...)
		}
	}
	return errs
}

func web(w *v1alpha1.WebMetric, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if w.URL == "" {
		errs = append(errs, field.Required(path.Child("url"), "the URL to call"))
	} else {
		errs = append(errs, address(w.URL, path.Child("url"))...)
	}
	switch w.Method {
	case "", v1alpha1.WebMetricMethodGet, v1alpha1.WebMetricMethodPost, v1alpha1.WebMetricMethodPut:
	default:
		errs = append(errs, field.NotSupported(path.Child("method"), string(w.Method), []string{"GET", "POST", "PUT"}))
	}
	if w.Body != "" && len(w.JSONBody) > 0 {
		errs = append(errs, field.Forbidden(path.Child("jsonBody"), "body and jsonBody are mutually exclusive"))
	}
	if (w.Body != "" || len(w.JSONBody) > 0) && (w.Method == "" || w.Method == v1alpha1.WebMetricMethodGet) {
		errs = append(errs, field.Forbidden(path.Child("method"), "a request body needs method POST or PUT"))
	}
	if len(w.JSONBody) > 0 && !json.Valid(w.JSONBody) {
		errs = append(errs, field.Invalid(path.Child("jsonBody"), string(w.JSONBody), "must be valid JSON"))
	}
	if w.TimeoutSeconds < 0 {
		errs = append(errs, field.Invalid(path.Child("timeoutSeconds"), w.TimeoutSeconds, "must be a positive number of seconds"))
	}
	errs = append(errs, authentication(&w.Authentication, path.Child("authentication"))...)
	return errs
}

func datadog(d *v1alpha1.DatadogMetric, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, duration(d.Interval, path.Child("interval"))...)
	errs = append(errs, duration(d.RequestTimeout, path.Child("requestTimeout"))...)
	if (d.Query == "") == (len(d.Queries) == 0) {
		errs = append(errs, field.Invalid(path, "", "exactly one of query or queries must be set"))
	}
	switch d.ApiVersion {
	case "", "v1", "v2":
	default:
		errs = append(errs, field.NotSupported(path.Child("apiVersion"), d.ApiVersion, []string{"v1", "v2"}))
	}
	if len(d.Queries) > 0 && d.ApiVersion != "v2" {
		errs = append(errs, field.Invalid(path.Child("apiVersion"), d.ApiVersion, "queries need apiVersion v2"))
	}
	if d.Formula != "" && len(d.Queries) == 0 {
		errs = append(errs, field.Forbidden(path.Child("formula"), "a formula combines queries; set queries"))
	}
	return errs
}

func job(j *v1alpha1.JobMetric, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	tmpl := path.Child("spec", "template")
	if len(j.Spec.Template.Spec.Containers) == 0 {
		errs = append(errs, field.Required(tmpl.Child("spec", "containers"), "at least one container"))
	}
	switch j.Spec.Template.Spec.RestartPolicy {
	case corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure:
	default:
		errs = append(errs, field.NotSupported(tmpl.Child("spec", "restartPolicy"), string(j.Spec.Template.Spec.RestartPolicy), []string{"Never", "OnFailure"}))
	}
	return errs
}

func kayenta(k *v1alpha1.KayentaMetric, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, address(k.Address, path.Child("address"))...)
	errs = append(errs, required(k.Application, path.Child("application"), "the Kayenta application")...)
	errs = append(errs, required(k.CanaryConfigName, path.Child("canaryConfigName"), "the canary configuration's name")...)
	th := k.Threshold
	if th.Pass < 0 || th.Pass > 100 {
		errs = append(errs, field.Invalid(path.Child("threshold", "pass"), th.Pass, "must be between 0 and 100"))
	}
	if th.Marginal < 0 || th.Marginal > 100 {
		errs = append(errs, field.Invalid(path.Child("threshold", "marginal"), th.Marginal, "must be between 0 and 100"))
	}
	if th.Marginal > th.Pass {
		errs = append(errs, field.Invalid(path.Child("threshold", "marginal"), th.Marginal, "must not exceed threshold.pass"))
	}
	if len(k.Scopes) == 0 {
		errs = append(errs, field.Required(path.Child("scopes"), "at least one scope"))
	}
	return errs
}

func cloudWatch(c *v1alpha1.CloudWatchMetric, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, duration(c.Interval, path.Child("interval"))...)
	if len(c.MetricDataQueries) == 0 {
		errs = append(errs, field.Required(path.Child("metricDataQueries"), "at least one query"))
	}
	ids := nameSet{}
	for i, q := range c.MetricDataQueries {
		p := path.Child("metricDataQueries").Index(i)
		errs = append(errs, ids.check(q.Id, p.Child("id"), "a query id")...)
		if (q.Expression == nil) == (q.MetricStat == nil) {
			errs = append(errs, field.Invalid(p, q.Id, "exactly one of expression or metricStat must be set"))
		}
	}
	return errs
}
