package chaos_test

import (
	"sync"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/internal/trafficrouting/alb/elbv2test"
)

// awsRegion is the local ELBv2 server's region.
const awsRegion = "us-west-2"

// localAWS is the ELBv2 API and the AWS Load Balancer Controller for the
// ALB canaries: a load balancer per Ingress, whose listener rule takes the
// weights of the Ingress's forward action whenever the Ingress changes.
// ramp-controller reaches it through the AWS SDK's endpoint variable.
type localAWS struct {
	srv *elbv2test.Server
	mu  sync.Mutex
	lbs map[string]*elbv2test.LoadBalancer
}

func newLocalAWS(t *testing.T) *localAWS {
	a := &localAWS{srv: elbv2test.Start(t), lbs: map[string]*elbv2test.LoadBalancer{}}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": a.srv.URL, "AWS_ACCESS_KEY_ID": "AKIDRAMPTEST", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_REGION": awsRegion, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	} {
		t.Setenv(k, v)
	}
	return a
}

// provision makes the Ingress's load balancer and reports its DNS name in
// the Ingress's status, as the AWS Load Balancer Controller does.
func (a *localAWS) provision(t *testing.T, admin client.Client, ing *networkingv1.Ingress) {
	t.Helper()
	host := ing.Name + ".elb.example.com"
	lb := a.srv.AddIngress(ing.Namespace, ing.Name, host, 80, ing.Name+"-stable", ing.Name+"-canary")
	a.mu.Lock()
	a.lbs[ing.Name] = lb
	a.mu.Unlock()
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{Hostname: host}}
	if err := admin.Status().Update(t.Context(), ing); err != nil {
		t.Fatal(err)
	}
}

// apply gives the load balancer the weights of the Ingress's forward
// action.
func (a *localAWS) apply(ing *networkingv1.Ingress) {
	a.mu.Lock()
	lb := a.lbs[ing.Name]
	a.mu.Unlock()
	annotation := "alb.ingress.kubernetes.io/actions." + ing.Name + "-stable"
	if lb != nil && ing.Annotations[annotation] != "" {
		_ = a.srv.Apply(lb, ing, annotation)
	}
}

// Verified is how many ELBv2 calls the controller made.
func (a *localAWS) Calls() int { return a.srv.Calls("") }
