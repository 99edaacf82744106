package alb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/trafficrouting"
)

// ELB is the part of the ELBv2 API the Verifier calls; aws-sdk-go-v2's
// *elasticloadbalancingv2.Client is one. Every call is a Describe: the
// IAM policy needs elasticloadbalancing:DescribeLoadBalancers,
// DescribeTargetGroups, DescribeTags, DescribeListeners, DescribeRules and
// DescribeTargetHealth.
type ELB interface {
	DescribeLoadBalancers(context.Context, *elbv2.DescribeLoadBalancersInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeTargetGroups(context.Context, *elbv2.DescribeTargetGroupsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	DescribeTags(context.Context, *elbv2.DescribeTagsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
	DescribeListeners(context.Context, *elbv2.DescribeListenersInput, ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error)
	DescribeRules(context.Context, *elbv2.DescribeRulesInput, ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error)
	DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
}

// DefaultResourceTagKey is the tag the AWS Load Balancer Controller puts
// on the target groups it creates for an Ingress:
// <namespace>/<ingress>-<service>:<port>.
const DefaultResourceTagKey = "ingress.k8s.aws/resource"

// DefaultVerifyInterval is how long an answer from AWS holds: the same
// question is not asked again sooner, however often the rollout is
// reconciled.
const DefaultVerifyInterval = 10 * time.Second

// Verifier asks AWS whether a load balancer applies the weights Ramp wrote
// on its Ingress, and whether target groups have registered a Service's
// endpoints. One Verifier serves every rollout; it is safe for concurrent
// use.
type Verifier struct {
	ELB ELB
	// ResourceTagKey overrides DefaultResourceTagKey
	// (--alb-tag-key-resource-id).
	ResourceTagKey string
	// Clock is the time source for Interval; the real clock if nil.
	Clock clock.PassiveClock
	// Interval overrides DefaultVerifyInterval.
	Interval time.Duration

	mu     sync.Mutex
	recent map[string]answer
}

type answer struct {
	at       time.Time
	verified bool
	status   v1alpha1.ALBStatus
	missing  string // a target not registered yet
	err      error
}

func (v *Verifier) now() time.Time {
	if v.Clock == nil {
		return time.Now()
	}
	return v.Clock.Now()
}

func (v *Verifier) interval() time.Duration {
	if v.Interval > 0 {
		return v.Interval
	}
	return DefaultVerifyInterval
}

// remember answers question from the last answer younger than Interval,
// or asks ask and keeps its answer.
func (v *Verifier) remember(question string, ask func() answer) answer {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	if a, ok := v.recent[question]; ok && now.Sub(a.at) < v.interval() {
		return a
	}
	if v.recent == nil {
		v.recent = map[string]answer{}
	}
	for q, a := range v.recent {
		if now.Sub(a.at) >= v.interval() {
			delete(v.recent, q)
		}
	}
	a := ask()
	a.at = now
	v.recent[question] = a
	return a
}

// VerifyingRouter is the ALB router with weight verification on.
type VerifyingRouter struct {
	*Router
	v *Verifier

	mu     sync.Mutex
	status []v1alpha1.ALBStatus
}

var (
	_ trafficrouting.WeightVerifier     = (*VerifyingRouter)(nil)
	_ trafficrouting.LoadBalancerStatus = (*VerifyingRouter)(nil)
)

// VerifyWeight reports whether every Ingress's load balancer gives the
// canary's target group weight in each listener rule that forwards to it.
func (r *VerifyingRouter) VerifyWeight(ctx context.Context, weight int32) (bool, error) {
	var status []v1alpha1.ALBStatus
	verified := true
	for _, name := range r.Ingresses() {
		ing := &networkingv1.Ingress{}
		if err := r.reader.Get(ctx, ctrl.ObjectKey{Namespace: r.ro.Namespace, Name: name}, ing); err != nil {
			return false, fmt.Errorf("reading Ingress %s: %w", name, err)
		}
		question := fmt.Sprintf("weight %s/%s %s=%d %s %d", ing.Namespace, ing.Name, r.canary, weight, r.stable, r.cfg.ServicePort)
		a := r.v.remember(question, func() answer { return r.v.verifyWeight(ctx, ing, r.canary, r.stable, r.cfg.ServicePort, weight) })
		if a.err != nil {
			return false, a.err
		}
		status = append(status, a.status)
		verified = verified && a.verified
	}
	r.mu.Lock()
	r.status = status
	r.mu.Unlock()
	return verified, nil
}

// LoadBalancers are the load balancers and target groups the last
// verification found, one per Ingress.
func (r *VerifyingRouter) LoadBalancers() []v1alpha1.ALBStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.status)
}

// LoadBalancerNotFoundError says an Ingress has no load balancer (yet).
type LoadBalancerNotFoundError struct{ Msg string }

func (e *LoadBalancerNotFoundError) Error() string { return e.Msg }

func (v *Verifier) verifyWeight(ctx context.Context, ing *networkingv1.Ingress, canary, stable string, port, weight int32) answer {
	lb, err := v.loadBalancer(ctx, ing)
	if err != nil {
		return answer{err: err}
	}
	status := v1alpha1.ALBStatus{Ingress: ing.Name, LoadBalancer: lbRef(aws.ToString(lb.LoadBalancerName), aws.ToString(lb.LoadBalancerArn))}
	groups, err := v.targetGroups(ctx, aws.ToString(lb.LoadBalancerArn))
	if err != nil {
		return answer{err: err}
	}
	id := func(svc string) string { return fmt.Sprintf("%s/%s-%s:%d", ing.Namespace, ing.Name, svc, port) }
	canaryTG, stableTG := groups[id(canary)], groups[id(stable)]
	if canaryTG == nil {
		return answer{err: fmt.Errorf("load balancer %s has no target group tagged %s=%s", aws.ToString(lb.LoadBalancerName), v.tagKey(), id(canary))}
	}
	status.CanaryTargetGroup = tgRef(aws.ToString(canaryTG.TargetGroupName), aws.ToString(canaryTG.TargetGroupArn))
	if stableTG != nil {
		status.StableTargetGroup = tgRef(aws.ToString(stableTG.TargetGroupName), aws.ToString(stableTG.TargetGroupArn))
	}
	weights, err := v.ruleWeights(ctx, aws.ToString(lb.LoadBalancerArn), aws.ToString(canaryTG.TargetGroupArn))
	if err != nil {
		return answer{err: err}
	}
	verified := len(weights) > 0
	for _, w := range weights {
		verified = verified && w == weight
	}
	return answer{verified: verified, status: status}
}

// lbRef and tgRef name an AWS resource; FullName is what CloudWatch
// dimensions use: "app/name/id" for a load balancer,
// "targetgroup/name/id" for a target group.
func lbRef(name, arn string) v1alpha1.AwsResourceRef {
	_, full, _ := strings.Cut(arn, ":loadbalancer/")
	return v1alpha1.AwsResourceRef{Name: name, ARN: arn, FullName: full}
}

func tgRef(name, arn string) v1alpha1.AwsResourceRef {
	full := ""
	if i := strings.Index(arn, ":targetgroup/"); i >= 0 {
		full = arn[i+1:]
	}
	return v1alpha1.AwsResourceRef{Name: name, ARN: arn, FullName: full}
}

func (v *Verifier) tagKey() string {
	if v.ResourceTagKey != "" {
		return v.ResourceTagKey
	}
	return DefaultResourceTagKey
}

// loadBalancer finds the load balancer whose DNS name is in the Ingress's
// status.
func (v *Verifier) loadBalancer(ctx context.Context, ing *networkingv1.Ingress) (*elbv2types.LoadBalancer, error) {
	var hosts []string
	for _, lb := range ing.Status.LoadBalancer.Ingress {
		if lb.Hostname != "" {
			hosts = append(hosts, strings.ToLower(lb.Hostname))
		}
	}
	if len(hosts) == 0 {
		return nil, &LoadBalancerNotFoundError{Msg: fmt.Sprintf("Ingress %s has no load balancer hostname in its status yet", ing.Name)}
	}
	pages := elbv2.NewDescribeLoadBalancersPaginator(v.ELB, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(300)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeLoadBalancers: %w", err)
		}
		for i := range page.LoadBalancers {
			if slices.Contains(hosts, strings.ToLower(aws.ToString(page.LoadBalancers[i].DNSName))) {
				return &page.LoadBalancers[i], nil
			}
		}
	}
	return nil, &LoadBalancerNotFoundError{Msg: fmt.Sprintf("no load balancer has the DNS name of Ingress %s (%s)", ing.Name, strings.Join(hosts, ", "))}
}

// targetGroups are the load balancer's target groups by their resource
// tag.
func (v *Verifier) targetGroups(ctx context.Context, lbARN string) (map[string]*elbv2types.TargetGroup, error) {
	var groups []elbv2types.TargetGroup
	pages := elbv2.NewDescribeTargetGroupsPaginator(v.ELB, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbARN)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeTargetGroups: %w", err)
		}
		groups = append(groups, page.TargetGroups...)
	}
	byARN := map[string]*elbv2types.TargetGroup{}
	var arns []string
	for i := range groups {
		byARN[aws.ToString(groups[i].TargetGroupArn)] = &groups[i]
		arns = append(arns, aws.ToString(groups[i].TargetGroupArn))
	}
	out := map[string]*elbv2types.TargetGroup{}
	for batch := range slices.Chunk(arns, 20) { // DescribeTags takes at most 20
		tags, err := v.ELB.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: batch})
		if err != nil {
			return nil, fmt.Errorf("DescribeTags: %w", err)
		}
		for _, d := range tags.TagDescriptions {
			for _, t := range d.Tags {
				if aws.ToString(t.Key) == v.tagKey() {
					out[aws.ToString(t.Value)] = byARN[aws.ToString(d.ResourceArn)]
				}
			}
		}
	}
	return out, nil
}

// ruleWeights are the weights the load balancer's listener rules give the
// target group, one per forward action that names it.
func (v *Verifier) ruleWeights(ctx context.Context, lbARN, tgARN string) ([]int32, error) {
	var out []int32
	listeners := elbv2.NewDescribeListenersPaginator(v.ELB, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
	for listeners.HasMorePages() {
		page, err := listeners.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeListeners: %w", err)
		}
		for _, l := range page.Listeners {
			in := &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn}
			for {
				rules, err := v.ELB.DescribeRules(ctx, in)
				if err != nil {
					return nil, fmt.Errorf("DescribeRules: %w", err)
				}
				for _, rule := range rules.Rules {
					for _, a := range rule.Actions {
						if a.ForwardConfig == nil {
							continue
						}
						for _, tg := range a.ForwardConfig.TargetGroups {
							if aws.ToString(tg.TargetGroupArn) == tgARN {
								out = append(out, aws.ToInt32(tg.Weight))
							}
						}
					}
				}
				if rules.NextMarker == nil {
					break
				}
				in.Marker = rules.NextMarker
			}
		}
	}
	return out, nil
}

// Verifying is r with weight verification through v.
func (r *Router) Verifying(v *Verifier) *VerifyingRouter {
	return &VerifyingRouter{Router: r, v: v}
}
