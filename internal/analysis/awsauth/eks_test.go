package awsauth_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/awsauth"
	"github.com/rampdev/ramp/internal/analysis/cloudwatch"
	"github.com/rampdev/ramp/internal/analysis/cloudwatch/cloudwatchtest"
	"github.com/rampdev/ramp/internal/analysis/prometheus"
)

// The controller's AWS calls (CloudWatch metrics, Amazon Managed Service
// for Prometheus queries, ELBv2 for the ALB router) sign with the identity
// EKS gives the pod, through aws-sdk-go-v2's default chain: IRSA (a web
// identity token exchanged at STS) or EKS Pod Identity (a container
// credentials endpoint). Both are played here by local servers reached
// through the SDK's own settings (AWS_ENDPOINT_URL_STS,
// AWS_CONTAINER_CREDENTIALS_FULL_URI); the credentials they hand out have
// expired by the next call, so that every call after the first shows the
// refresh.

// issuer hands out short-lived credentials: each has a new key.
type issuer struct {
	mu   sync.Mutex
	n    int
	keys map[string]string // access key → session token
	cw   *cloudwatchtest.Server
}

func (i *issuer) issue(prefix string) (key, secret, token string, expires time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.n++
	key, secret, token = fmt.Sprintf("%s%04d", prefix, i.n), fmt.Sprintf("secret-%d", i.n), fmt.Sprintf("session-%s-%d", prefix, i.n)
	i.keys[key] = token
	i.cw.AllowKey(key, token)
	return key, secret, token, time.Now().UTC()
}

func (i *issuer) valid(key, token string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	t, ok := i.keys[key]
	return ok && t == token
}

var credentialRE = regexp.MustCompile(`Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request`)

// signed records who signed the requests a server got, by service.
type signed struct {
	mu   sync.Mutex
	keys map[string][]string
}

func (s *signed) record(r *http.Request, i *issuer) bool {
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil || !i.valid(m[1], r.Header.Get("X-Amz-Security-Token")) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[m[3]] = append(s.keys[m[3]], m[1])
	return true
}

func (s *signed) by(service string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys[service]...)
}

// environment clears what the default chain could find on this machine
// and points CloudWatch and ELBv2 at local servers.
func environment(t *testing.T, cw *cloudwatchtest.Server, elb string) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", cloudwatchtest.Region)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDWATCH", cw.URL)
	t.Setenv("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", elb)
}

// calls makes one call of each kind: a CloudWatch measurement, an AMP
// query (sigv4 block) and an ELBv2 call, all from the default chain.
func calls(t *testing.T, amp string) {
	t.Helper()
	cw := cloudwatch.New(cloudwatch.Provider{})
	metric := v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{CloudWatch: &v1alpha1.CloudWatchMetric{
		MetricDataQueries: []v1alpha1.CloudWatchMetricDataQuery{{Id: "q", Expression: ptr("SUM(METRICS())")}}}}}
	prom := prometheus.Provider{AWS: &awsauth.Identities{}}
	query := v1alpha1.Metric{Name: "p", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
		Address: amp, Query: "up", Authentication: v1alpha1.Authentication{Sigv4: v1alpha1.Sigv4Config{Region: cloudwatchtest.Region}}}}}
	cfg, err := awsconfig.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	elb := elbv2.NewFromConfig(cfg)
	deadline := time.Now().Add(30 * time.Second)
	for round := 0; round < 2; round++ {
		// The second round must sign with new credentials.
		for time.Now().Before(deadline) {
			_, err1 := cw.Measure(t.Context(), analysis.Request{Metric: metric})
			_, err2 := prom.Measure(t.Context(), analysis.Request{Metric: query})
			_, err3 := elb.DescribeLoadBalancers(t.Context(), &elbv2.DescribeLoadBalancersInput{})
			if err1 == nil && err2 == nil && err3 == nil {
				break
			}
			t.Logf("round %d: %v; %v; %v", round, err1, err2, err3)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// servers are the AMP and ELBv2 stand-ins: they check each request's
// signature key and session token and answer the least their client
// accepts.
func servers(t *testing.T, i *issuer, s *signed) (amp, elb string) {
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.record(r, i) {
			http.Error(w, `{"message":"The security token included in the request is invalid."}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1796212800,"1"]}]}}`))
	}))
	e := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.record(r, i) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>invalid</Message></Error></ErrorResponse>`))
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeLoadBalancersResult><LoadBalancers/></DescribeLoadBalancersResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>`))
	}))
	t.Cleanup(a.Close)
	t.Cleanup(e.Close)
	return a.URL, e.URL
}

// check asserts each service was signed by at least two keys, all issued.
func check(t *testing.T, cw *cloudwatchtest.Server, s *signed, prefix string) {
	t.Helper()
	for service, keys := range map[string][]string{"monitoring": cw.Signers(), "aps": s.by("aps"), "elasticloadbalancing": s.by("elasticloadbalancing")} {
		distinct := map[string]bool{}
		for _, k := range keys {
			if !regexp.MustCompile("^" + prefix + `\d{4}$`).MatchString(k) {
				t.Errorf("%s: signed by %s, not by credentials the test issued", service, k)
			}
			distinct[k] = true
		}
		if len(distinct) < 2 {
			t.Errorf("%s: signed by %v; want the first credentials and, once they expired, new ones", service, keys)
		}
	}
}

func TestIRSA(t *testing.T) {
	cw := cloudwatchtest.Start(t)
	i := &issuer{keys: map[string]string{}, cw: cw}
	s := &signed{keys: map[string][]string{}}
	amp, elb := servers(t, i, s)
	const role = "arn:aws:iam::123456789012:role/ramp-controller"
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cmFtcC1zeXN0ZW06cmFtcCJ9.c2lnbmF0dXJl"
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRoleWithWebIdentity" || r.Form.Get("RoleArn") != role || r.Form.Get("WebIdentityToken") != jwt {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>`))
			return
		}
		key, secret, token, expires := i.issue("ASIAIRSA")
		type creds struct {
			AccessKeyId, SecretAccessKey, SessionToken, Expiration string
		}
		body := struct {
			XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
			Result  struct {
				Credentials creds
				Subject     string `xml:"SubjectFromWebIdentityToken"`
			} `xml:"AssumeRoleWithWebIdentityResult"`
		}{}
		body.Result.Credentials = creds{key, secret, token, expires.Format(time.RFC3339)}
		body.Result.Subject = "system:serviceaccount:ramp-system:ramp"
		w.Header().Set("Content-Type", "text/xml")
		_ = xml.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(sts.Close)
	environment(t, cw, elb)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(jwt), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ROLE_ARN", role)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", file)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	calls(t, amp)
	check(t, cw, s, "ASIAIRSA")
}

func TestEKSPodIdentity(t *testing.T) {
	cw := cloudwatchtest.Start(t)
	i := &issuer{keys: map[string]string{}, cw: cw}
	s := &signed{keys: map[string][]string{}}
	amp, elb := servers(t, i, s)
	const podToken = "eks-pod-identity-token-7c1d"
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/credentials" || r.Header.Get("Authorization") != podToken {
			http.Error(w, `{"code":"AccessDeniedException","message":"invalid token"}`, http.StatusForbidden)
			return
		}
		key, secret, token, expires := i.issue("ASIAPODID")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": key, "SecretAccessKey": secret, "Token": token,
			"AccountId": "123456789012", "Expiration": expires.Format(time.RFC3339)})
	}))
	t.Cleanup(agent.Close)
	environment(t, cw, elb)
	file := filepath.Join(t.TempDir(), "eks-pod-identity-token")
	if err := os.WriteFile(file, []byte(podToken), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.URL+"/v1/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file)
	calls(t, amp)
	check(t, cw, s, "ASIAPODID")
}
