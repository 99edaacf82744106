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
	// +optional
	Prometheus *PrometheusMetric `json:"prometheus,omitempty"`
	// +optional
	Kayenta *KayentaMetric `json:"kayenta,omitempty"`
	// +optional
	Web *WebMetric `json:"web,omitempty"`
	// +optional
	Datadog *DatadogMetric `json:"datadog,omitempty"`
	// +optional
	Wavefront *WavefrontMetric `json:"wavefront,omitempty"`
	// +optional
	NewRelic *NewRelicMetric `json:"newRelic,omitempty"`
	// +optional
	Job *JobMetric `json:"job,omitempty"`
	// +optional
	CloudWatch *CloudWatchMetric `json:"cloudWatch,omitempty"`
	// +optional
	Graphite *GraphiteMetric `json:"graphite,omitempty"`
	// +optional
	Influxdb *InfluxdbMetric `json:"influxdb,omitempty"`
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
	// +optional
	Authentication Authentication `json:"authentication,omitzero"`
	// Timeout of the query in seconds. Defaults to 30.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Timeout *int64 `json:"timeout,omitempty"`
	// Insecure skips TLS verification.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// +optional
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// RangeQuery makes this a range query.
	// +optional
	RangeQuery *PrometheusRangeQueryArgs `json:"rangeQuery,omitempty"`
}

// PrometheusRangeQueryArgs are a range query's bounds, as expressions that
// evaluate to times (for example now() - duration("5m")).
type PrometheusRangeQueryArgs struct {
	// +optional
	Start string `json:"start,omitempty"`
	// +optional
	End string `json:"end,omitempty"`
	// +optional
	Step string `json:"step,omitempty"`
}

// Authentication of a metric provider. At most one method is set.
//
// +kubebuilder:validation:XValidation:rule="[has(self.sigv4) && (has(self.sigv4.region) || has(self.sigv4.profile) || has(self.sigv4.roleArn)), has(self.oauth2) && has(self.oauth2.tokenUrl), has(self.basicAuth) && has(self.basicAuth.username)].filter(x, x).size() <= 1",message="authentication sets at most one of sigv4, oauth2 or basicAuth"
type Authentication struct {
	// +optional
	Sigv4 Sigv4Config `json:"sigv4,omitzero"`
	// +optional
	OAuth2 OAuth2Config `json:"oauth2,omitzero"`
	// +optional
	BasicAuth BasicAuth `json:"basicAuth,omitzero"`
}

// Sigv4Config signs requests for Amazon Managed Service for Prometheus.
type Sigv4Config struct {
	// +optional
	Region string `json:"region,omitempty"`
	// +optional
	Profile string `json:"profile,omitempty"`
	// +optional
	RoleARN string `json:"roleArn,omitempty"`
}

// OAuth2Config uses the OAuth2 client-credentials flow.
type OAuth2Config struct {
	// +optional
	TokenURL string `json:"tokenUrl,omitempty"`
	// +optional
	ClientID string `json:"clientId,omitempty"`
	// +optional
	ClientSecret string `json:"clientSecret,omitempty"`
	// +optional
	Scopes []string `json:"scopes,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	// +optional
	Username string `json:"username,omitempty"`
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
	// +optional
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// +optional
	Body string `json:"body,omitempty"`
	// TimeoutSeconds defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=1
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
	// JSONPath selects the value; defaults to {$}.
	// +optional
	JSONPath string `json:"jsonPath,omitempty"`
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// JSONBody is a JSON document sent as the body.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	JSONBody json.RawMessage `json:"jsonBody,omitempty"`
	// +optional
	Authentication Authentication `json:"authentication,omitzero"`
}

// WebMetricHeader is one HTTP header.
type WebMetricHeader struct {
	// +kubebuilder:validation:MinLength=1
	Key   string `json:"key"`
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
	// +optional
	Query string `json:"query,omitempty"`
	// +optional
	Queries map[string]string `json:"queries,omitempty"`
	// +optional
	Formula string `json:"formula,omitempty"`
	// ApiVersion is v1 or v2.
	// +optional
	// +kubebuilder:validation:Enum=v1;v2
	// +kubebuilder:default=v1
	ApiVersion string `json:"apiVersion,omitempty"` //nolint:revive // Argo Rollouts' Go name.
	// +optional
	// +kubebuilder:validation:Enum=avg;min;max;sum;last;percentile;mean;l2norm;area
	Aggregator string `json:"aggregator,omitempty"`
	// +optional
	SecretRef SecretRef `json:"secretRef,omitzero"`
	// RequestTimeout defaults to 10s.
	// +optional
	RequestTimeout DurationString `json:"requestTimeout,omitempty"`
}

// SecretRef names a Secret holding a provider's credentials.
type SecretRef struct {
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
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
	// Timeout in seconds; defaults to 5.
	// +optional
	Timeout *int64 `json:"timeout,omitempty"`
}

// WavefrontMetric queries Wavefront.
type WavefrontMetric struct {
	// +optional
	Address string `json:"address,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
}

// JobMetric runs a Kubernetes Job: exit 0 is Successful, non-zero Failed.
type JobMetric struct {
	// +optional
	Metadata JobMetadata     `json:"metadata,omitzero"`
	Spec     batchv1.JobSpec `json:"spec"`
}

// JobMetadata is the metadata added to a metric's Job.
type JobMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// CloudWatchMetric runs CloudWatch GetMetricData queries.
type CloudWatchMetric struct {
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// +kubebuilder:validation:MinItems=1
	MetricDataQueries []CloudWatchMetricDataQuery `json:"metricDataQueries"`
}

// CloudWatchMetricDataQuery is one GetMetricData query.
type CloudWatchMetricDataQuery struct {
	// +kubebuilder:validation:MinLength=1
	Id string `json:"id"` //nolint:revive // Argo Rollouts' Go name.
	// +optional
	Expression *string `json:"expression,omitempty"`
	// +optional
	Label *string `json:"label,omitempty"`
	// +optional
	MetricStat *CloudWatchMetricStat `json:"metricStat,omitempty"`
	// +optional
	// +kubebuilder:validation:XIntOrString
	Period *intstr.IntOrString `json:"period,omitempty"`
	// +optional
	ReturnData *bool `json:"returnData,omitempty"`
}

// CloudWatchMetricStat is a metric, statistic and period.
type CloudWatchMetricStat struct {
	// +optional
	Metric CloudWatchMetricStatMetric `json:"metric,omitzero"`
	// +optional
	// +kubebuilder:validation:XIntOrString
	Period intstr.IntOrString `json:"period,omitzero"`
	// +optional
	Stat string `json:"stat,omitempty"`
	// +optional
	Unit string `json:"unit,omitempty"`
}

// CloudWatchMetricStatMetric names a CloudWatch metric.
type CloudWatchMetricStatMetric struct {
	// +optional
	Dimensions []CloudWatchMetricStatMetricDimension `json:"dimensions,omitempty"`
	// +optional
	MetricName *string `json:"metricName,omitempty"`
	// +optional
	Namespace *string `json:"namespace,omitempty"`
}

// CloudWatchMetricStatMetricDimension is one dimension of a metric.
type CloudWatchMetricStatMetricDimension struct {
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Value string `json:"value,omitempty"`
}

// GraphiteMetric queries Graphite.
type GraphiteMetric struct {
	// +optional
	Address string `json:"address,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
}

// InfluxdbMetric runs a Flux query.
type InfluxdbMetric struct {
	// Profile is the Secret with address, authToken and org; defaults to
	// influxdb.
	// +optional
	Profile string `json:"profile,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
}

// SkyWalkingMetric runs a SkyWalking GraphQL query.
type SkyWalkingMetric struct {
	// +optional
	Address string `json:"address,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
	// +optional
	Interval DurationString `json:"interval,omitempty"`
}

// KayentaMetric asks Spinnaker Kayenta to judge a canary.
type KayentaMetric struct {
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`
	// +kubebuilder:validation:MinLength=1
	Application string `json:"application"`
	// +kubebuilder:validation:MinLength=1
	CanaryConfigName string `json:"canaryConfigName"`
	// +optional
	MetricsAccountName string `json:"metricsAccountName,omitempty"`
	// +optional
	ConfigurationAccountName string `json:"configurationAccountName,omitempty"`
	// +optional
	StorageAccountName string           `json:"storageAccountName,omitempty"`
	Threshold          KayentaThreshold `json:"threshold"`
	// +kubebuilder:validation:MinItems=1
	Scopes []KayentaScope `json:"scopes"`
	// +optional
	Lookback DurationString `json:"lookback,omitempty"`
}

// KayentaThreshold are the pass and marginal scores.
type KayentaThreshold struct {
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Pass int64 `json:"pass"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Marginal int64 `json:"marginal"`
}

// KayentaScope is a pair of control and experiment scopes.
type KayentaScope struct {
	// +kubebuilder:validation:MinLength=1
	Name            string      `json:"name"`
	ControlScope    ScopeDetail `json:"controlScope"`
	ExperimentScope ScopeDetail `json:"experimentScope"`
}

// ScopeDetail is one Kayenta scope.
type ScopeDetail struct {
	// +optional
	Scope string `json:"scope,omitempty"`
	// +optional
	Region string `json:"region,omitempty"`
	// +optional
	Step int64 `json:"step,omitempty"`
	// +optional
	Start string `json:"start,omitempty"`
	// +optional
	End string `json:"end,omitempty"`
}
