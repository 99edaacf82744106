package alb_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/cluster"
	"github.com/rampdev/ramp/internal/cluster/clustertest"
	"github.com/rampdev/ramp/internal/trafficrouting/alb"
	"github.com/rampdev/ramp/internal/trafficrouting/alb/elbv2test"
)

// withLoadBalancer creates an ALB Ingress whose status names host, as the
// AWS Load Balancer Controller writes it.
func withLoadBalancer(t *testing.T, ns, name, host string) *networkingv1.Ingress {
	ing := ingress(ns, name, "web-stable")
	create(t, ing)
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{Hostname: host}}
	if err := admin.Status().Update(t.Context(), ing); err != nil {
		t.Fatal(err)
	}
	return ing
}

func TestVerifyWeight(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	aws := elbv2test.Start(t)
	// Load balancers of other Ingresses, enough for two pages of
	// DescribeLoadBalancers; and a load balancer with more target groups
	// than one DescribeTags call takes.
	for i := range 301 {
		aws.AddIngress("other", fmt.Sprintf("ing-%d", i), fmt.Sprintf("other-%d.elb.amazonaws.com", i), 80, "a")
	}
	host := "k8s-web-1234.us-west-2.elb.amazonaws.com"
	services := []string{"web-stable", "web-canary"}
	for i := range 22 {
		services = append(services, fmt.Sprintf("svc-%d", i))
	}
	lb := aws.AddIngress(ns, "web", host, 80, services...)
	withLoadBalancer(t, ns, "web", host)

	clock := clocktesting.NewFakePassiveClock(time.Now())
	v := &alb.Verifier{ELB: aws.Client(), Clock: clock}
	plain, err := alb.New(router, router, rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := plain.Verifying(v)
	ctx := t.Context()
	if err := r.SetWeight(ctx, 30); err != nil {
		t.Fatal(err)
	}
	ok, err := r.VerifyWeight(ctx, 30)
	if err != nil || ok {
		t.Fatalf("before the load balancer has the weight: verified %v, %v", ok, err)
	}
	if n := aws.Calls("DescribeLoadBalancers"); n != 2 {
		t.Errorf("DescribeLoadBalancers called %d times, want 2 pages", n)
	}
	if n := aws.Calls("DescribeTags"); n != 2 {
		t.Errorf("DescribeTags called %d times for 24 target groups, want 2 batches", n)
	}

	// The AWS Load Balancer Controller applies the annotation. Until the
	// interval passes, the router does not ask again.
	if err := aws.Apply(lb, get(t, ns, "web"), plain.ActionKey()); err != nil {
		t.Fatal(err)
	}
	calls := aws.Calls("")
	if ok, _ := r.VerifyWeight(ctx, 30); ok || aws.Calls("") != calls {
		t.Errorf("asked AWS again within the interval (verified %v, %d calls)", ok, aws.Calls("")-calls)
	}
	clock.SetTime(clock.Now().Add(alb.DefaultVerifyInterval))
	if ok, err := r.VerifyWeight(ctx, 30); err != nil || !ok {
		t.Fatalf("after the load balancer has the weight: verified %v, %v", ok, err)
	}
	st := r.LoadBalancers()
	if len(st) != 1 || st[0].Ingress != "web" || st[0].LoadBalancer.ARN != lb.ARN || st[0].LoadBalancer.Name != lb.Name ||
		!strings.HasPrefix(st[0].LoadBalancer.FullName, "app/"+lb.Name+"/") ||
		st[0].CanaryTargetGroup.ARN != lb.Group("web-canary").ARN || !strings.HasPrefix(st[0].CanaryTargetGroup.FullName, "targetgroup/") ||
		st[0].StableTargetGroup.Name != lb.Group("web-stable").Name {
		t.Errorf("status %+v", st)
	}
}

func TestVerifyWeightWithoutALoadBalancer(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	aws := elbv2test.Start(t)
	create(t, ingress(ns, "web", "web-stable"))
	plain, err := alb.New(router, router, rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := plain.Verifying(&alb.Verifier{ELB: aws.Client()})
	_, err = r.VerifyWeight(t.Context(), 10)
	var nf *alb.LoadBalancerNotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "Ingress web has no load balancer hostname in its status yet") {
		t.Errorf("no hostname: %v", err)
	}
	ns = clustertest.Namespace(t, admin)
	withLoadBalancer(t, ns, "web", "gone.elb.amazonaws.com")
	plain, err = alb.New(router, router, rollout(ns, "web", &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = plain.Verifying(&alb.Verifier{ELB: aws.Client()}).VerifyWeight(t.Context(), 10)
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "no load balancer has the DNS name of Ingress web (gone.elb.amazonaws.com)") {
		t.Errorf("unknown hostname: %v", err)
	}
}

func TestVerifyTargets(t *testing.T) {
	ns := clustertest.Namespace(t, admin)
	aws := elbv2test.Start(t)
	tgARN := "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/k8s-web/0123456789abcdef"
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web-stable", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	create(t, svc)
	create(t, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
		"metadata": map[string]any{"name": "web", "namespace": ns},
		"spec":     map[string]any{"serviceRef": map[string]any{"name": "web-stable", "port": int64(80)}, "targetGroupARN": tgARN, "targetType": "ip"},
	}})
	for i, readiness := range []string{"true", "true", "false"} {
		create(t, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: ns, Labels: map[string]string{"app": "web"},
				Annotations: map[string]string{cluster.AnnotationReady: readiness}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		})
	}
	var ips []string
	clustertest.Eventually(t, 30*time.Second, "three pods with IPs, two ready", func() (bool, string) {
		pods := &corev1.PodList{}
		if err := admin.List(t.Context(), pods, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		ips = nil
		ready := 0
		for _, p := range pods.Items {
			ips = append(ips, p.Status.PodIP)
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		slices.Sort(ips)
		return len(ips) == 3 && !slices.Contains(ips, "") && ready == 2, fmt.Sprint(ips, ready)
	})
	ipOf := func(pod string) string {
		p := &corev1.Pod{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: pod}, p); err != nil {
			t.Fatal(err)
		}
		return p.Status.PodIP
	}
	ready0, ready1 := ipOf("web-0"), ipOf("web-1")
	clock := clocktesting.NewFakePassiveClock(time.Now())
	v := &alb.TargetVerifier{Verifier: &alb.Verifier{ELB: aws.Client(), Clock: clock}, Reader: admin}

	aws.SetTargets(tgARN, elbv2test.Target{ID: ready0, Port: 8080, State: "healthy"}, elbv2test.Target{ID: ready1, Port: 8080, State: "draining"})
	ok, why, err := v.VerifyTargets(t.Context(), svc)
	if err != nil || ok || !strings.Contains(why, "has not registered "+ready1+":8080 yet") {
		t.Errorf("a draining target: %v %q %v", ok, why, err)
	}
	// The unready pod need not be registered.
	aws.SetTargets(tgARN, elbv2test.Target{ID: ready0, Port: 8080, State: "healthy"}, elbv2test.Target{ID: ready1, Port: 8080, State: "initial"})
	clock.SetTime(clock.Now().Add(alb.DefaultVerifyInterval))
	if ok, why, err := v.VerifyTargets(t.Context(), svc); err != nil || !ok {
		t.Errorf("every ready pod registered: %v %q %v", ok, why, err)
	}
	other := svc.DeepCopy()
	other.Name = "unbound"
	calls := aws.Calls("")
	if ok, _, err := v.VerifyTargets(t.Context(), other); err != nil || !ok || aws.Calls("") != calls {
		t.Errorf("a Service no binding names: %v %v (%d calls)", ok, err, aws.Calls("")-calls)
	}
}
