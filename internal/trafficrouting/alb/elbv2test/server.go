// Package elbv2test is a local HTTP server that speaks the part of the
// Elastic Load Balancing v2 query API Ramp calls (DescribeLoadBalancers,
// DescribeTargetGroups, DescribeTags, DescribeListeners, DescribeRules,
// DescribeTargetHealth): form-encoded requests in, XML responses out, as
// AWS documents them, so tests drive aws-sdk-go-v2's real client. It
// stands in for AWS, which tests cannot reach; it also plays the AWS Load
// Balancer Controller when a test tells it to Apply an Ingress.
package elbv2test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	networkingv1 "k8s.io/api/networking/v1"
)

const (
	region  = "us-west-2"
	account = "123456789012"
	xmlns   = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
)

// Server is one fake region of ELBv2.
type Server struct {
	URL string

	mu      sync.Mutex
	lbs     []*LoadBalancer
	calls   map[string]int
	nextID  int
	Targets map[string][]Target // registered targets by target group ARN
}

// LoadBalancer is an ALB with its target groups and one listener.
type LoadBalancer struct {
	Name, ARN, DNSName string
	Groups             []*TargetGroup
	ListenerARN        string
	Rules              []*Rule
}

// TargetGroup is a target group with its tags.
type TargetGroup struct {
	Name, ARN string
	Tags      map[string]string
}

// Rule is a listener rule forwarding to weighted target groups.
type Rule struct {
	ARN, Priority string
	Weights       map[string]int32 // by target group ARN
}

// Target is a registered target and its health state.
type Target struct {
	ID    string
	Port  int32
	State string
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	s := &Server{calls: map[string]int{}, Targets: map[string][]Target{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Client is aws-sdk-go-v2's ELBv2 client pointed at the server, signing
// with static credentials.
func (s *Server) Client() *elbv2.Client {
	return elbv2.New(elbv2.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDRAMPTEST", "secret", ""),
	})
}

// Calls counts the API calls by action name ("DescribeRules"...); "" counts all.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if action != "" {
		return s.calls[action]
	}
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// AddIngress makes what the AWS Load Balancer Controller makes for an
// Ingress: a load balancer with DNS name host, a target group per Service
// tagged ingress.k8s.aws/resource=<ns>/<ingress>-<service>:<port>, and a
// listener rule forwarding all to the first Service. It returns the load
// balancer.
func (s *Server) AddIngress(namespace, ingress, host string, port int32, services ...string) *LoadBalancer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	name := fmt.Sprintf("k8s-%s-%s", namespace, ingress)
	if len(name) > 32 {
		name = name[:32]
	}
	lb := &LoadBalancer{
		Name:        name,
		ARN:         fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%016x", region, account, name, s.nextID),
		DNSName:     host,
		ListenerARN: fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:listener/app/%s/%016x/%016x", region, account, name, s.nextID, s.nextID),
	}
	rule := &Rule{ARN: strings.Replace(lb.ListenerARN, ":listener/", ":listener-rule/", 1) + "/1", Priority: "1", Weights: map[string]int32{}}
	for i, svc := range services {
		s.nextID++
		tgName := fmt.Sprintf("k8s-%s-%d", svc, s.nextID)
		tg := &TargetGroup{
			Name: tgName,
			ARN:  fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%016x", region, account, tgName, s.nextID),
			Tags: map[string]string{"ingress.k8s.aws/resource": fmt.Sprintf("%s/%s-%s:%d", namespace, ingress, svc, port), "elbv2.k8s.aws/cluster": "ramp"},
		}
		lb.Groups = append(lb.Groups, tg)
		rule.Weights[tg.ARN] = 0
		if i == 0 {
			rule.Weights[tg.ARN] = 100
		}
	}
	lb.Rules = []*Rule{rule}
	s.lbs = append(s.lbs, lb)
	return lb
}

// Group is the target group of a Service, by resource tag suffix.
func (lb *LoadBalancer) Group(service string) *TargetGroup {
	for _, g := range lb.Groups {
		if strings.Contains(g.Tags["ingress.k8s.aws/resource"], "-"+service+":") {
			return g
		}
	}
	return nil
}

// Apply does what the AWS Load Balancer Controller does with the Ingress's
// action annotation for root: the listener rule gets its weights.
func (s *Server) Apply(lb *LoadBalancer, ing *networkingv1.Ingress, annotation string) error {
	var a struct {
		ForwardConfig struct {
			TargetGroups []struct {
				ServiceName string
				Weight      int32
			}
		}
	}
	if err := json.Unmarshal([]byte(ing.Annotations[annotation]), &a); err != nil {
		return fmt.Errorf("annotation %s: %w", annotation, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tg := range a.ForwardConfig.TargetGroups {
		g := lb.Group(tg.ServiceName)
		if g == nil {
			return fmt.Errorf("no target group for Service %s", tg.ServiceName)
		}
		lb.Rules[0].Weights[g.ARN] = tg.Weight
	}
	return nil
}

// SetTargets registers targets in a target group.
func (s *Server) SetTargets(tgARN string, targets ...Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Targets[tgARN] = targets
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.fail(w, "InvalidParameterValue", err.Error())
		return
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDRAMPTEST/") || !strings.Contains(auth, "/"+region+"/elasticloadbalancing/aws4_request") {
		w.WriteHeader(http.StatusForbidden)
		s.write(w, "ErrorResponse", "<Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>unsigned request</Message></Error>")
		return
	}
	if v := r.Form.Get("Version"); v != "2015-12-01" {
		s.fail(w, "InvalidAction", "unknown API version "+v)
		return
	}
	act := r.Form.Get("Action")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[act]++
	var body strings.Builder
	switch act {
	case "DescribeLoadBalancers":
		start, _ := strconv.Atoi(r.Form.Get("Marker"))
		size, _ := strconv.Atoi(r.Form.Get("PageSize"))
		if size <= 0 || size > 400 {
			size = 400
		}
		end := min(start+size, len(s.lbs))
		body.WriteString("<LoadBalancers>")
		for _, lb := range s.lbs[start:end] {
			fmt.Fprintf(&body, "<member><LoadBalancerArn>%s</LoadBalancerArn><DNSName>%s</DNSName><LoadBalancerName>%s</LoadBalancerName><Scheme>internet-facing</Scheme><Type>application</Type><State><Code>active</Code></State></member>", esc(lb.ARN), esc(lb.DNSName), esc(lb.Name))
		}
		body.WriteString("</LoadBalancers>")
		if end < len(s.lbs) {
			fmt.Fprintf(&body, "<NextMarker>%d</NextMarker>", end)
		}
	case "DescribeTargetGroups":
		lb := s.lb(r.Form.Get("LoadBalancerArn"))
		if lb == nil {
			s.fail(w, "LoadBalancerNotFound", "One or more load balancers not found")
			return
		}
		body.WriteString("<TargetGroups>")
		for _, g := range lb.Groups {
			fmt.Fprintf(&body, "<member><TargetGroupArn>%s</TargetGroupArn><TargetGroupName>%s</TargetGroupName><Protocol>HTTP</Protocol><Port>80</Port><TargetType>ip</TargetType><LoadBalancerArns><member>%s</member></LoadBalancerArns></member>", esc(g.ARN), esc(g.Name), esc(lb.ARN))
		}
		body.WriteString("</TargetGroups>")
	case "DescribeTags":
		arns := members(r, "ResourceArns")
		if len(arns) > 20 {
			s.fail(w, "ValidationError", "ResourceArns: at most 20")
			return
		}
		body.WriteString("<TagDescriptions>")
		for _, arn := range arns {
			g := s.group(arn)
			if g == nil {
				s.fail(w, "TargetGroupNotFound", "One or more target groups not found")
				return
			}
			fmt.Fprintf(&body, "<member><ResourceArn>%s</ResourceArn><Tags>", esc(arn))
			for k, v := range g.Tags {
				fmt.Fprintf(&body, "<member><Key>%s</Key><Value>%s</Value></member>", esc(k), esc(v))
			}
			body.WriteString("</Tags></member>")
		}
		body.WriteString("</TagDescriptions>")
	case "DescribeListeners":
		lb := s.lb(r.Form.Get("LoadBalancerArn"))
		if lb == nil {
			s.fail(w, "LoadBalancerNotFound", "One or more load balancers not found")
			return
		}
		fmt.Fprintf(&body, "<Listeners><member><ListenerArn>%s</ListenerArn><LoadBalancerArn>%s</LoadBalancerArn><Port>80</Port><Protocol>HTTP</Protocol></member></Listeners>", esc(lb.ListenerARN), esc(lb.ARN))
	case "DescribeRules":
		var lb *LoadBalancer
		for _, l := range s.lbs {
			if l.ListenerARN == r.Form.Get("ListenerArn") {
				lb = l
			}
		}
		if lb == nil {
			s.fail(w, "ListenerNotFound", "One or more listeners not found")
			return
		}
		body.WriteString("<Rules>")
		for _, rule := range lb.Rules {
			fmt.Fprintf(&body, "<member><RuleArn>%s</RuleArn><Priority>%s</Priority><IsDefault>false</IsDefault><Conditions><member><Field>path-pattern</Field><Values><member>/*</member></Values></member></Conditions><Actions><member><Type>forward</Type><Order>1</Order><ForwardConfig><TargetGroups>", esc(rule.ARN), esc(rule.Priority))
			for _, g := range lb.Groups {
				if wt, ok := rule.Weights[g.ARN]; ok {
					fmt.Fprintf(&body, "<member><TargetGroupArn>%s</TargetGroupArn><Weight>%d</Weight></member>", esc(g.ARN), wt)
				}
			}
			body.WriteString("</TargetGroups></ForwardConfig></member></Actions></member>")
		}
		body.WriteString("</Rules>")
	case "DescribeTargetHealth":
		arn := r.Form.Get("TargetGroupArn")
		if s.group(arn) == nil {
			s.fail(w, "TargetGroupNotFound", "One or more target groups not found")
			return
		}
		body.WriteString("<TargetHealthDescriptions>")
		for _, t := range s.Targets[arn] {
			fmt.Fprintf(&body, "<member><Target><Id>%s</Id><Port>%d</Port></Target><HealthCheckPort>%d</HealthCheckPort><TargetHealth><State>%s</State></TargetHealth></member>", esc(t.ID), t.Port, t.Port, esc(t.State))
		}
		body.WriteString("</TargetHealthDescriptions>")
	default:
		s.fail(w, "InvalidAction", "the fake does not serve "+act)
		return
	}
	s.write(w, act+"Response", "<"+act+"Result>"+body.String()+"</"+act+"Result><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>")
}

func (s *Server) lb(arn string) *LoadBalancer {
	for _, lb := range s.lbs {
		if lb.ARN == arn {
			return lb
		}
	}
	return nil
}

func (s *Server) group(arn string) *TargetGroup {
	for _, lb := range s.lbs {
		for _, g := range lb.Groups {
			if g.ARN == arn {
				return g
			}
		}
	}
	// A target group made for a TargetGroupBinding need not belong to a
	// load balancer the server made.
	if _, ok := s.Targets[arn]; ok {
		return &TargetGroup{ARN: arn}
	}
	return nil
}

// members reads a query-API list parameter: Name.member.1, Name.member.2...
func members(r *http.Request, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := r.Form[fmt.Sprintf("%s.member.%d", name, i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func (s *Server) fail(w http.ResponseWriter, code, msg string) {
	w.WriteHeader(http.StatusBadRequest)
	s.write(w, "ErrorResponse", "<Error><Type>Sender</Type><Code>"+esc(code)+"</Code><Message>"+esc(msg)+"</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId>")
}

func (s *Server) write(w http.ResponseWriter, root, inner string) {
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><%s xmlns="%s">%s</%s>`, root, xmlns, inner, root)
}

func esc(v string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(v))
	return b.String()
}
