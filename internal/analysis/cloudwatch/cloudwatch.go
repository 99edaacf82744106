package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysis"
	"github.com/rampdev/ramp/internal/analysis/fetch"
)

// Defaults of a measurement.
const (
	// DefaultInterval is the look-back window without interval.
	DefaultInterval = 5 * time.Minute
	// DefaultTimeout bounds a measurement (all its pages).
	DefaultTimeout = 30 * time.Second
	// maxPages bounds the pages one measurement reads.
	maxPages = 100
)

// ConfigFunc loads the AWS configuration requests are signed with.
type ConfigFunc func(ctx context.Context) (aws.Config, error)

// Provider runs CloudWatch metrics. The zero value signs with the default
// credential chain and reads answers through fetch.Shared().
type Provider struct {
	// HTTP is how CloudWatch is reached; nil is fetch.Shared().
	HTTP *fetch.Client
	// Config loads the AWS configuration; nil is the default chain with
	// Region.
	Config ConfigFunc
	// Region, when set, overrides the configuration's (--aws-region).
	Region string
	// Timeout bounds a measurement; zero is DefaultTimeout.
	Timeout time.Duration
	// Clock gives the end of the window; nil is the wall clock.
	Clock interface{ Now() time.Time }

	once *clientOnce
}

// clientOnce builds the client on first use and keeps it; a failed load is
// tried again by the next measurement.
type clientOnce struct {
	mu     sync.Mutex
	client *cloudwatch.Client
}

// New is a Provider that keeps its client between measurements.
func New(p Provider) *Provider {
	p.once = &clientOnce{}
	return &p
}

var _ analysis.Provider = (*Provider)(nil)

// Type is "cloudWatch".
func (*Provider) Type() string { return "cloudWatch" }

func (p *Provider) client(ctx context.Context) (*cloudwatch.Client, error) {
	once := p.once
	if once == nil {
		once = &clientOnce{}
	}
	once.mu.Lock()
	defer once.mu.Unlock()
	if once.client != nil {
		return once.client, nil
	}
	load := p.Config
	if load == nil {
		load = func(ctx context.Context) (aws.Config, error) { return awsconfig.LoadDefaultConfig(ctx) }
	}
	cfg, err := load(ctx)
	if err != nil {
		return nil, fmt.Errorf("cloudWatch: loading the AWS configuration: %w", err)
	}
	if p.Region != "" {
		cfg.Region = p.Region
	}
	if cfg.Region == "" {
		return nil, errors.New("cloudWatch: no AWS region: set AWS_REGION on the controller or pass --aws-region")
	}
	hc := p.HTTP
	if hc == nil {
		hc = fetch.Shared()
	}
	once.client = cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.HTTPClient = &http.Client{Transport: hc.Transport(false)}
	})
	return once.client, nil
}

// Measure runs the queries once, over [now-interval, now].
func (p *Provider) Measure(ctx context.Context, req analysis.Request) (analysis.Outcome, error) {
	m := req.Metric.Provider.CloudWatch
	window := DefaultInterval
	if m.Interval != "" {
		d, err := time.ParseDuration(string(m.Interval))
		if err != nil {
			return analysis.Outcome{}, fmt.Errorf("cloudWatch: interval %q: %w", m.Interval, err)
		}
		window = d
	}
	queries, err := Queries(m.MetricDataQueries)
	if err != nil {
		return analysis.Outcome{}, err
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := p.client(ctx)
	if err != nil {
		return analysis.Outcome{}, err
	}
	now := time.Now()
	if p.Clock != nil {
		now = p.Clock.Now()
	}
	in := &cloudwatch.GetMetricDataInput{
		StartTime:         aws.Time(now.Add(-window)),
		EndTime:           aws.Time(now),
		MetricDataQueries: queries,
	}
	var results []types.MetricDataResult
	var messages []types.MessageData
	pages := cloudwatch.NewGetMetricDataPaginator(client, in)
	for n := 0; pages.HasMorePages(); n++ {
		if n == maxPages {
			return analysis.Outcome{}, fmt.Errorf("cloudWatch: GetMetricData answered more than %d pages; narrow the queries or the interval", maxPages)
		}
		out, err := pages.NextPage(ctx)
		if err != nil {
			return analysis.Outcome{}, fmt.Errorf("cloudWatch: %w", err)
		}
		results = merge(results, out.MetricDataResults)
		messages = append(messages, out.Messages...)
	}
	if results == nil {
		results = []types.MetricDataResult{}
	}
	values := make([][]float64, len(results))
	for i, r := range results {
		values[i] = r.Values
	}
	out := analysis.Outcome{Value: results, Text: fmt.Sprintf("%+v", values)}
	if len(messages) > 0 {
		out.Metadata = map[string]string{"messages": fmt.Sprintf("%+v", messages)}
	}
	return out, nil
}

// merge adds a page's results: a query's values continued from an earlier
// page are appended to its entry.
func merge(into, page []types.MetricDataResult) []types.MetricDataResult {
	for _, r := range page {
		found := false
		for i := range into {
			if aws.ToString(into[i].Id) == aws.ToString(r.Id) && r.Id != nil {
				into[i].Values = append(into[i].Values, r.Values...)
				into[i].Timestamps = append(into[i].Timestamps, r.Timestamps...)
				into[i].Messages = append(into[i].Messages, r.Messages...)
				if r.StatusCode != types.StatusCodeComplete {
					into[i].StatusCode = r.StatusCode
				}
				found = true
				break
			}
		}
		if !found {
			into = append(into, r)
		}
	}
	return into
}

// Queries converts the block's queries into the SDK's. A period is a
// number of seconds (a number or a numeric string).
func Queries(in []v1alpha1.CloudWatchMetricDataQuery) ([]types.MetricDataQuery, error) {
	out := make([]types.MetricDataQuery, 0, len(in))
	for i, q := range in {
		mq := types.MetricDataQuery{Id: aws.String(q.Id), Expression: q.Expression, Label: q.Label, ReturnData: q.ReturnData}
		if q.Period != nil {
			n, err := seconds(*q.Period)
			if err != nil {
				return nil, fmt.Errorf("cloudWatch: metricDataQueries[%d].period: %w", i, err)
			}
			mq.Period = aws.Int32(n)
		}
		if s := q.MetricStat; s != nil {
			n, err := seconds(s.Period)
			if err != nil {
				return nil, fmt.Errorf("cloudWatch: metricDataQueries[%d].metricStat.period: %w", i, err)
			}
			stat := &types.MetricStat{
				Metric: &types.Metric{MetricName: s.Metric.MetricName, Namespace: s.Metric.Namespace},
				Period: aws.Int32(n),
				Stat:   aws.String(s.Stat),
			}
			if s.Unit != "" {
				stat.Unit = types.StandardUnit(s.Unit)
			}
			for _, d := range s.Metric.Dimensions {
				stat.Metric.Dimensions = append(stat.Metric.Dimensions, types.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)})
			}
			mq.MetricStat = stat
		}
		out = append(out, mq)
	}
	return out, nil
}

// seconds reads a period: a positive number of seconds, as a number or a
// numeric string.
func seconds(v intstr.IntOrString) (int32, error) {
	n := v.IntValue()
	if v.Type == intstr.String && strconv.Itoa(n) != v.StrVal {
		return 0, fmt.Errorf("%q is not a number of seconds", v.StrVal)
	}
	if n <= 0 {
		return 0, fmt.Errorf("a positive number of seconds is required, not %d", n)
	}
	return int32(n), nil
}

// Resume is never needed: Measure completes.
func (p *Provider) Resume(ctx context.Context, req analysis.Request, _ *v1alpha1.Measurement) (analysis.Outcome, error) {
	return p.Measure(ctx, req)
}

// Terminate has nothing to stop.
func (*Provider) Terminate(context.Context, analysis.Request, *v1alpha1.Measurement) error {
	return nil
}

// GarbageCollect has nothing to remove.
func (*Provider) GarbageCollect(context.Context, analysis.Request, int) error { return nil }
