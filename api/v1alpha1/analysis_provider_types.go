package v1alpha1

import (
	"encoding/json"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// MetricProvider is where a metric's measurements come from. Exactly one
// provider is set.
//
// +kubebuilder:validation:XValidation:rule="[has(self.prometheus), has(self.kayenta), has(self.web), has(self.datadog), has(self.wavefront), has(self.newRelic), has(self.job), has(self.cloudWatch), has(self.graphite), has(self.influxdb), has(self.skywalking), has(self.plugin)].filter(x, x).size() == 1",message="a metric provider must set exactly one of prometheus, kayenta, web, datadog, wavefront, newRelic, job, cloudWatch, graphite, influxdb, skywalking or plugin"
type MetricProvider struct {
	// Prometheus runs a PromQL query (also against Amazon Managed Service for Prometheus).
	// +optional
	Prometheus *PrometheusMetric `json:"prometheus,omitempty"`
	// Kayenta asks Spinnaker Kayenta's statistical judge to score the canary.
	// +optional
	Kayenta *KayentaMetric `json:"kayenta,omitempty"`
	// Web calls an HTTP endpoint and reads a value from its answer.
	// +optional
	Web *WebMetric `json:"web,omitempty"`
	// Datadog runs a Datadog metrics query.
	// +optional
	Datadog *DatadogMetric `json:"datadog,omitempty"`
	// Wavefront runs a Wavefront query.
	// +optional
	Wavefront *WavefrontMetric `json:"wavefront,omitempty"`
	// NewRelic runs an NRQL query.
	// +optional
	NewRelic *NewRelicMetric `json:"newRelic,omitempty"`
	// Job runs a Kubernetes Job; its success or failure is the measurement.
	// +optional
	Job *JobMetric `json:"job,omitempty"`
	// CloudWatch runs Amazon CloudWatch GetMetricData queries.
	// +optional
	CloudWatch *CloudWatchMetric `json:"cloudWatch,omitempty"`
	// Graphite runs a Graphite render query.
	// +optional
	Graphite *GraphiteMetric `json:"graphite,omitempty"`
	// Influxdb runs an InfluxDB Flux query.
	// +optional
	Influxdb *InfluxdbMetric `json:"influxdb,omitempty"`
	// SkyWalking runs an Apache SkyWalking GraphQL query.
	// +optional
	SkyWalking *SkyWalkingMetric `json:"skywalking,omitempty"`
	// Plugin configures an out-of-tree provider, keyed "<org>/<name>".
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Plugin map[string]json.RawMessage `json:"plugin,omitempty"`
}

// PrometheusMetric queries Prometheus (or Amazon Managed Service for
// Prometheus with SigV4).
type PrometheusMetric struct {
	// Address of the server; defaults to RAMP_PROMETHEUS_ADDRESS.
	// +optional
	Address string `json:"address,omitempty"`
	// Query is PromQL; {{args.name}} is substituted.
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
	// Authentication signs or authenticates the queries: sigv4, oauth2 or basicAuth.
	// +optional
	Authentication Authentication `json:"authentication,omitzero"`
	// Timeout of the query in seconds. Defaults to 30.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Timeout *int64 `json:"timeout,omitempty"`
	// Insecure skips TLS verification.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// Headers are added to every query request; values may hold {{args.name}}.
	// +optional
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// RangeQuery makes this a range query.
	// +optional
	RangeQuery *PrometheusRangeQueryArgs `json:"rangeQuery,omitempty"`
}

// PrometheusRangeQueryArgs are a range query's bounds, as expressions that
// evaluate to times (for example now() - duration("5m")).
type PrometheusRangeQueryArgs struct {
	// Start is an expression that evaluates to the range's start time.
	// +optional
	Start string `json:"start,omitempty"`
	// End is an expression that evaluates to the range's end time.
	// +optional
	End string `json:"end,omitempty"`
	// Step is the resolution of the range, a duration such as 1m.
	// +optional
	Step string `json:"step,omitempty"`
}

// Authentication of a metric provider. At most one method is set.
//
// +kubebuilder:validation:XValidation:rule="[has(self.sigv4) && (has(self.sigv4.region) || has(self.sigv4.profile) || has(self.sigv4.roleArn)), has(self.oauth2) && has(self.oauth2.tokenUrl), has(self.basicAuth) && has(self.basicAuth.username)].filter(x, x).size() <= 1",message="authentication sets at most one of sigv4, oauth2 or basicAuth"
type Authentication struct {
	// Sigv4 signs requests with AWS Signature Version 4 (Amazon Managed Service for Prometheus), using the default credential chain (IRSA, EKS Pod Identity...).
	// +optional
	Sigv4 Sigv4Config `json:"sigv4,omitzero"`
	// OAuth2 fetches a token with the client-credentials flow.
	// +optional
	OAuth2 OAuth2Config `json:"oauth2,omitzero"`
	// BasicAuth sends a user name and password.
	// +optional
	BasicAuth BasicAuth `json:"basicAuth,omitzero"`
}

// Sigv4Config signs requests for Amazon Managed Service for Prometheus.
type Sigv4Config struct {
	// Region of the AWS service.
	// +optional
	Region string `json:"region,omitempty"`
	// Profile of the shared AWS configuration to use.
	// +optional
	Profile string `json:"profile,omitempty"`
	// RoleARN is a role to assume before signing.
	// +optional
	RoleARN string `json:"roleArn,omitempty"`
}

// OAuth2Config uses the OAuth2 client-credentials flow.
type OAuth2Config struct {
	// TokenURL is the token endpoint.
	// +optional
	TokenURL string `json:"tokenUrl,omitempty"`
	// ClientID identifies the client.
	// +optional
	ClientID string `json:"clientId,omitempty"`
	// ClientSecret is the client's secret; use {{args.name}} with a secretKeyRef argument to keep it out of the template.
	// +optional
	ClientSecret string `json:"clientSecret,omitempty"`
	// Scopes requested with the token.
	// +optional
	Scopes []string `json:"scopes,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	// Username sent with every request.
	// +optional
	Username string `json:"username,omitempty"`
	// Password sent with every request; use {{args.name}} with a secretKeyRef argument to keep it out of the template.
	// +optional
	Password string `json:"password,omitempty"`
}

// WebMetricMethod is the HTTP method of a web metric.
// +kubebuilder:validation:Enum=GET;POST;PUT
type WebMetricMethod string

// Values of WebMetricMethod.
const (
	WebMetricMethodGet  WebMetricMethod = "GET"
	WebMetricMethodPost WebMetricMethod = "POST"
	WebMetricMethodPut  WebMetricMethod = "PUT"
)

// WebMetric calls an HTTP endpoint and reads a JSON value from the answer.
//
// +kubebuilder:validation:XValidation:rule="!has(self.method) || self.method != 'GET' || !has(self.body)",message="web.body needs method POST or PUT"
type WebMetric struct {
	// Method defaults to GET.
	// +optional
	Method WebMetricMethod `json:"method,omitempty"`
	// URL to call; {{args.name}} is substituted.
	// +kubebuilder:validation:MinLength=1
	URL string `json:"url"`
	// Headers are added to the request; values may hold {{args.name}}.
	// +optional
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// Body is sent as the request body (POST or PUT).
	// +optional
	Body string `json:"body,omitempty"`
	// TimeoutSeconds defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=1
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
	// JSONPath selects the value; defaults to {$}.
	// +optional
	JSONPath string `json:"jsonPath,omitempty"`
	// Insecure skips TLS certificate verification.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// JSONBody is a JSON document sent as the body.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	JSONBody json.RawMessage `json:"jsonBody,omitempty"`
	// Authentication of the request: oauth2.
	// +optional
	Authentication Authentication `json:"authentication,omitzero"`
}

// WebMetricHeader is one HTTP header.
type WebMetricHeader struct {
	// Key is the header's name.
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
	// Value is the header's value.
	Value string `json:"value"`
}

// DatadogMetric queries Datadog.
//
// +kubebuilder:validation:XValidation:rule="(has(self.query) && size(self.query) > 0) != (has(self.queries) && size(self.queries) > 0)",message="datadog needs exactly one of query or queries"
// +kubebuilder:validation:XValidation:rule="!has(self.queries) || size(self.queries) == 0 || self.apiVersion == 'v2'",message="datadog.queries needs apiVersion v2"
type DatadogMetric struct {
	// Interval of the query window. Defaults to 5m.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// Query is a v1 metrics query.
	// +optional
	Query string `json:"query,omitempty"`
	// Queries are named v2 queries, combined by formula.
	// +optional
	Queries map[string]string `json:"queries,omitempty"`
	// Formula combines the named queries (v2), for example a / b.
	// +optional
	Formula string `json:"formula,omitempty"`
	// ApiVersion is v1 or v2.
	// +optional
	// +kubebuilder:validation:Enum=v1;v2
	// +kubebuilder:default=v1
	ApiVersion string `json:"apiVersion,omitempty"` //nolint:revive // Argo Rollouts' Go name.
	// Aggregator reduces the series to one value (v2).
	// +optional
	// +kubebuilder:validation:Enum=avg;min;max;sum;last;percentile;mean;l2norm;area
	Aggregator string `json:"aggregator,omitempty"`
	// SecretRef names the Secret with the address, api-key and app-key; defaults to the Secret datadog in the controller's namespace.
	// +optional
	SecretRef SecretRef `json:"secretRef,omitzero"`
	// RequestTimeout defaults to 10s.
	// +optional
	RequestTimeout DurationString `json:"requestTimeout,omitempty"`
}

// SecretRef names a Secret holding a provider's credentials.
type SecretRef struct {
	// Name of the Secret.
	// +optional
	Name string `json:"name,omitempty"`
	// Namespaced reads the Secret from the template's namespace.
	// +optional
	Namespaced bool `json:"namespaced,omitempty"`
}

// NewRelicMetric runs an NRQL query.
type NewRelicMetric struct {
	// Profile is the Secret with the credentials; defaults to newrelic.
	// +optional
	Profile string `json:"profile,omitempty"`
	// Query is NRQL.
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
	// Timeout in seconds; defaults to 5.
	// +optional
	Timeout *int64 `json:"timeout,omitempty"`
}

// WavefrontMetric queries Wavefront.
type WavefrontMetric struct {
	// Address of the Wavefront server; its token comes from the Secret wavefront-api-tokens.
	// +optional
	Address string `json:"address,omitempty"`
	// Query is a Wavefront query.
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
}

// JobMetric runs a Kubernetes Job: exit 0 is Successful, non-zero Failed.
type JobMetric struct {
	// Metadata is added to the Job.
	// +optional
	Metadata JobMetadata     `json:"metadata,omitzero"`
	Spec     batchv1.JobSpec `json:"spec"`
}

// JobMetadata is the metadata added to a metric's Job.
type JobMetadata struct {
	// Labels added to the Job.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations added to the Job.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// CloudWatchMetric runs CloudWatch GetMetricData queries.
type CloudWatchMetric struct {
	// Interval is how far back the queries look. Defaults to 5m.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// MetricDataQueries are the GetMetricData queries.
	// +kubebuilder:validation:MinItems=1
	MetricDataQueries []CloudWatchMetricDataQuery `json:"metricDataQueries"`
}

// CloudWatchMetricDataQuery is one GetMetricData query.
type CloudWatchMetricDataQuery struct {
	// Id names the query; expressions refer to it.
	// +kubebuilder:validation:MinLength=1
	Id string `json:"id"` //nolint:revive // Argo Rollouts' Go name.
	// Expression is a metric math expression over other queries.
	// +optional
	Expression *string `json:"expression,omitempty"`
	// Label of the returned series.
	// +optional
	Label *string `json:"label,omitempty"`
	// MetricStat is a metric with a statistic and a period.
	// +optional
	MetricStat *CloudWatchMetricStat `json:"metricStat,omitempty"`
	// Period of the returned points, in seconds.
	// +optional
	// +kubebuilder:validation:XIntOrString
	Period *intstr.IntOrString `json:"period,omitempty"`
	// ReturnData says whether this query's series is part of the result.
	// +optional
	ReturnData *bool `json:"returnData,omitempty"`
}

// CloudWatchMetricStat is a metric, statistic and period.
type CloudWatchMetricStat struct {
	// Metric is the CloudWatch metric.
	// +optional
	Metric CloudWatchMetricStatMetric `json:"metric,omitzero"`
	// Period of the statistic, in seconds.
	// +optional
	// +kubebuilder:validation:XIntOrString
	Period intstr.IntOrString `json:"period,omitzero"`
	// Stat is the statistic, such as Sum, Average or p99.
	// +optional
	Stat string `json:"stat,omitempty"`
	// Unit of the metric, such as Count.
	// +optional
	Unit string `json:"unit,omitempty"`
}

// CloudWatchMetricStatMetric names a CloudWatch metric.
type CloudWatchMetricStatMetric struct {
	// Dimensions select the metric's series.
	// +optional
	Dimensions []CloudWatchMetricStatMetricDimension `json:"dimensions,omitempty"`
	// MetricName of the metric.
	// +optional
	MetricName *string `json:"metricName,omitempty"`
	// Namespace of the metric, such as AWS/ApplicationELB.
	// +optional
	Namespace *string `json:"namespace,omitempty"`
}

// CloudWatchMetricStatMetricDimension is one dimension of a metric.
type CloudWatchMetricStatMetricDimension struct {
	// Name of the dimension.
	// +optional
	Name string `json:"name,omitempty"`
	// Value of the dimension.
	// +optional
	Value string `json:"value,omitempty"`
}

// GraphiteMetric queries Graphite.
type GraphiteMetric struct {
	// Address of the Graphite server.
	// +optional
	Address string `json:"address,omitempty"`
	// Query is a Graphite render target.
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
}

// InfluxdbMetric runs a Flux query.
type InfluxdbMetric struct {
	// Profile is the Secret with address, authToken and org; defaults to
	// influxdb.
	// +optional
	Profile string `json:"profile,omitempty"`
	// Query is a Flux query.
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
}

// SkyWalkingMetric runs a SkyWalking GraphQL query.
type SkyWalkingMetric struct {
	// Address of the SkyWalking OAP server.
	// +optional
	Address string `json:"address,omitempty"`
	// Query is a GraphQL query.
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
	// Interval is the time window the query covers.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
}

// KayentaMetric asks Spinnaker Kayenta to judge a canary.
type KayentaMetric struct {
	// Address of the Kayenta server.
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`
	// Application name in Kayenta.
	// +kubebuilder:validation:MinLength=1
	Application string `json:"application"`
	// CanaryConfigName is the Kayenta canary configuration to judge with.
	// +kubebuilder:validation:MinLength=1
	CanaryConfigName string `json:"canaryConfigName"`
	// MetricsAccountName is Kayenta's metrics account.
	// +optional
	MetricsAccountName string `json:"metricsAccountName,omitempty"`
	// ConfigurationAccountName is Kayenta's configuration account.
	// +optional
	ConfigurationAccountName string `json:"configurationAccountName,omitempty"`
	// StorageAccountName is Kayenta's storage account.
	// +optional
	StorageAccountName string `json:"storageAccountName,omitempty"`
	// Threshold are the scores that pass (at or above pass) and that are marginal (at or above marginal, Inconclusive).
	Threshold KayentaThreshold `json:"threshold"`
	// Scopes pair the control and experiment series to compare.
	// +kubebuilder:validation:MinItems=1
	Scopes []KayentaScope `json:"scopes"`
	// Lookback starts the scopes' window at the run's start, not one metric
	// interval before the measurement (when the scopes set no start).
	// +optional
	Lookback bool `json:"lookback,omitempty"`
}

// KayentaThreshold are the pass and marginal scores.
type KayentaThreshold struct {
	// Pass is the lowest score that passes.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Pass int64 `json:"pass"`
	// Marginal is the lowest score that is Inconclusive rather than Failed.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Marginal int64 `json:"marginal"`
}

// KayentaScope is a pair of control and experiment scopes.
type KayentaScope struct {
	// Name of the scope.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// ControlScope selects the baseline's series.
	ControlScope ScopeDetail `json:"controlScope"`
	// ExperimentScope selects the canary's series.
	ExperimentScope ScopeDetail `json:"experimentScope"`
}

// ScopeDetail is one Kayenta scope.
type ScopeDetail struct {
	// Scope is the metrics selector, such as a label query.
	// +optional
	Scope string `json:"scope,omitempty"`
	// Region of the metrics.
	// +optional
	Region string `json:"region,omitempty"`
	// Step is the resolution in seconds.
	// +optional
	Step int64 `json:"step,omitempty"`
	// Start time of the scope (RFC 3339).
	// +optional
	Start string `json:"start,omitempty"`
	// End time of the scope (RFC 3339).
	// +optional
	End string `json:"end,omitempty"`
}
