package cloudwatch_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/cloudwatch"
	"github.com/rampdev/ramp/internal/analysis/cloudwatch/cloudwatchtest"
	"github.com/rampdev/ramp/internal/analysis/fetch"
	"github.com/rampdev/ramp/internal/analysis/providertest"
)

// now is the end of every window: the server answers datapoints before it.
var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

type fixedClock struct{}

func (fixedClock) Now() time.Time { return now }

func provider(srv *cloudwatchtest.Server, hc *fetch.Client) *cloudwatch.Provider {
	return cloudwatch.New(cloudwatch.Provider{
		HTTP:  hc,
		Clock: fixedClock{},
		Config: func(context.Context) (aws.Config, error) {
			return aws.Config{
				Region:       cloudwatchtest.Region,
				BaseEndpoint: aws.String(srv.URL),
				Credentials:  credentials.NewStaticCredentialsProvider(cloudwatchtest.AccessKey, cloudwatchtest.SecretKey, ""),
			}, nil
		},
	})
}

// errors5xx is the ALB's 5xx count of the canary's target group, as the
// sample template asks for it.
func errors5xx(targetGroup string) v1alpha1.Metric {
	return v1alpha1.Metric{
		Name:             "errors",
		SuccessCondition: "all(result[0].Values, {# == 0})",
		Provider: v1alpha1.MetricProvider{CloudWatch: &v1alpha1.CloudWatchMetric{
			Interval: "5m",
			MetricDataQueries: []v1alpha1.CloudWatchMetricDataQuery{{
				Id: "errors",
				MetricStat: &v1alpha1.CloudWatchMetricStat{
					Metric: v1alpha1.CloudWatchMetricStatMetric{
						Namespace:  ptr.To("AWS/ApplicationELB"),
						MetricName: ptr.To("HTTPCode_Target_5XX_Count"),
						Dimensions: []v1alpha1.CloudWatchMetricStatMetricDimension{
							{Name: "LoadBalancer", Value: "app/shop/50dc6c495c0c9188"},
							{Name: "TargetGroup", Value: targetGroup},
						},
					},
					Period: intstr.FromInt32(60),
					Stat:   "Sum",
					Unit:   "Count",
				},
			}},
		}},
	}
}

var canaryKey = cloudwatchtest.Key("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer=app/shop/50dc6c495c0c9188", "TargetGroup=targetgroup/canary/73e2d6bc24d8a067")

func TestConformance(t *testing.T) {
	srv := cloudwatchtest.Start(t)
	srv.Set(canaryKey, 0, 0, 0)
	hc := fetch.New(64<<10, 0)
	providertest.Run(t, providertest.Suite{
		Provider: provider(srv, hc),
		Metric:   errors5xx("targetgroup/canary/73e2d6bc24d8a067"),
		Passes:   "result[0].Values[0] == 0 && len(result[0].Values) == 3",
		Text:     "[[0 0 0]]",
		Fault: func(f providertest.Fault) {
			srv.Fail(0, "", "")
			srv.Delay(0)
			srv.Huge(0)
			switch f {
			case providertest.Unauthorized:
				srv.Fail(http.StatusForbidden, "AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/ramp/ramp is not authorized to perform: cloudwatch:GetMetricData")
			case providertest.ServerError:
				srv.Fail(http.StatusInternalServerError, "InternalServiceError", "internal error")
			case providertest.Hang:
				srv.Delay(time.Hour)
			case providertest.Huge:
				srv.Huge(128 << 10)
			}
		},
		Secrets:   []string{cloudwatchtest.SecretKey},
		CloseIdle: hc.CloseIdle,
	})
}

func measure(t *testing.T, p analysis.Provider, m v1alpha1.Metric) (analysis.Outcome, v1alpha1.AnalysisPhase, error) {
	t.Helper()
	return providertest.Judge(t, p, analysis.Request{Run: &v1alpha1.AnalysisRun{}, Metric: m})
}

func TestFailingCountFails(t *testing.T) {
	srv := cloudwatchtest.Start(t)
	srv.Set(canaryKey, 0, 3, 0)
	out, phase, err := measure(t, provider(srv, nil), errors5xx("targetgroup/canary/73e2d6bc24d8a067"))
	if phase != v1alpha1.AnalysisPhaseFailed || err != nil || out.Text != "[[0 3 0]]" {
		t.Fatalf("phase %s, value %s, %v", phase, out.Text, err)
	}
	// The request: the block's query, one window of interval ending now.
	q := srv.Queries()[0][0]
	if q.ID != "errors" || q.MetricStat.Stat != "Sum" || q.MetricStat.Period != 60 || q.MetricStat.Unit != "Count" || len(q.MetricStat.Metric.Dimensions) != 2 {
		t.Errorf("query sent %+v", q)
	}
	if s := srv.Signers(); len(s) != 1 || s[0] != cloudwatchtest.AccessKey {
		t.Errorf("signed by %v", s)
	}
}

func TestEmptyResultIsNoDataNotASuccess(t *testing.T) {
	srv := cloudwatchtest.Start(t)
	out, phase, err := measure(t, provider(srv, nil), errors5xx("targetgroup/other/1"))
	// No datapoints: all() of nothing holds, as in Argo Rollouts; a
	// condition that indexes the values is an Error.
	if phase != v1alpha1.AnalysisPhaseSuccessful || out.Text != "[[]]" {
		t.Fatalf("phase %s, value %s, %v", phase, out.Text, err)
	}
	m := errors5xx("targetgroup/other/1")
	m.SuccessCondition = "result[0].Values[0] == 0"
	_, phase, err = measure(t, provider(srv, nil), m)
	if phase != v1alpha1.AnalysisPhaseError || err == nil {
		t.Fatalf("indexing no datapoints: phase %s, %v", phase, err)
	}
}

func TestEveryPageIsRead(t *testing.T) {
	srv := cloudwatchtest.Start(t)
	srv.Set(canaryKey, 1, 2, 3, 4, 5)
	srv.SetExpression("errors / 10", 0.1, 0.2, 0.3, 0.4, 0.5)
	srv.PageSize(2)
	m := errors5xx("targetgroup/canary/73e2d6bc24d8a067")
	m.Provider.CloudWatch.MetricDataQueries[0].ReturnData = ptr.To(false)
	m.Provider.CloudWatch.MetricDataQueries = append(m.Provider.CloudWatch.MetricDataQueries,
		v1alpha1.CloudWatchMetricDataQuery{Id: "ratio", Expression: ptr.To("errors / 10"), Period: ptr.To(intstr.FromString("60"))})
	m.SuccessCondition = "len(result) == 1 && len(result[0].Values) == 5 && result[0].Values[4] == 0.5"
	out, phase, err := measure(t, provider(srv, nil), m)
	if phase != v1alpha1.AnalysisPhaseSuccessful || err != nil {
		t.Fatalf("phase %s, value %s, %v", phase, out.Text, err)
	}
	if srv.Calls() != 3 {
		t.Errorf("%d calls for 5 datapoints in pages of 2", srv.Calls())
	}
}

func TestBadBlockIsAClearError(t *testing.T) {
	srv := cloudwatchtest.Start(t)
	m := errors5xx("x")
	m.Provider.CloudWatch.Interval = "five minutes"
	if _, err := provider(srv, nil).Measure(t.Context(), analysis.Request{Metric: m}); err == nil || !strings.Contains(err.Error(), `interval "five minutes"`) {
		t.Errorf("a bad interval: %v", err)
	}
	m = errors5xx("x")
	m.Provider.CloudWatch.MetricDataQueries[0].MetricStat.Period = intstr.IntOrString{}
	if _, err := provider(srv, nil).Measure(t.Context(), analysis.Request{Metric: m}); err == nil || !strings.Contains(err.Error(), "metricDataQueries[0].metricStat.period") {
		t.Errorf("no period: %v", err)
	}
	if srv.Calls() != 0 {
		t.Errorf("%d calls for blocks that cannot be sent", srv.Calls())
	}
}

func TestUnknownKeyIsAnErrorWithoutTheSecret(t *testing.T) {
	srv := cloudwatchtest.Start(t)
	p := cloudwatch.New(cloudwatch.Provider{Config: func(context.Context) (aws.Config, error) {
		return aws.Config{Region: cloudwatchtest.Region, BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDUNKNOWN", "another-secret-value", "")}, nil
	}})
	_, err := p.Measure(t.Context(), analysis.Request{Metric: errors5xx("x")})
	if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") || strings.Contains(err.Error(), "another-secret-value") {
		t.Fatalf("an unknown access key: %v", err)
	}
}
