package alb

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampdev/ramp/internal/trafficrouting"
)

// TargetGroupBindingGVK is the AWS Load Balancer Controller's binding of a
// Service to a target group (--aws-target-group-binding-api-version picks
// another version).
var TargetGroupBindingGVK = schema.GroupVersionKind{Group: "elbv2.k8s.aws", Version: "v1beta1", Kind: "TargetGroupBinding"}

var _ trafficrouting.TargetVerifier = (*TargetVerifier)(nil)

// TargetVerifier checks, after a Service's selector changed, that the
// target groups bound to it in IP mode have registered every ready
// endpoint of the Service: until they have, the ALB may still send
// requests to the pods the selector left.
type TargetVerifier struct {
	*Verifier
	// Reader reads TargetGroupBindings and EndpointSlices, uncached.
	Reader ctrl.Reader
	// GVK overrides TargetGroupBindingGVK.
	GVK schema.GroupVersionKind
}

// VerifyTargets reports whether every TargetGroupBinding of svc with
// targetType ip has every ready pod of svc registered (and not
// draining). A Service no binding names is verified: there is nothing to
// wait for.
func (v *TargetVerifier) VerifyTargets(ctx context.Context, svc *corev1.Service) (bool, string, error) {
	gvk := v.GVK
	if gvk.Empty() {
		gvk = TargetGroupBindingGVK
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := v.Reader.List(ctx, list, ctrl.InNamespace(svc.Namespace)); err != nil {
		if meta.IsNoMatchError(err) {
			return true, "", nil // no TargetGroupBinding CRD: nothing is bound
		}
		return false, "", fmt.Errorf("listing TargetGroupBindings: %w", err)
	}
	for _, b := range list.Items {
		name, _, _ := unstructured.NestedString(b.Object, "spec", "serviceRef", "name")
		mode, _, _ := unstructured.NestedString(b.Object, "spec", "targetType")
		arn, _, _ := unstructured.NestedString(b.Object, "spec", "targetGroupARN")
		if name != svc.Name || mode != "ip" || arn == "" {
			continue
		}
		port, ok := servicePort(svc, b.Object)
		if !ok {
			return false, "", fmt.Errorf("TargetGroupBinding %s: Service %s has no such port", b.GetName(), svc.Name)
		}
		want, err := v.endpoints(ctx, svc, port)
		if err != nil {
			return false, "", err
		}
		question := "targets " + arn + " " + strings.Join(want, ",")
		a := v.remember(question, func() answer {
			out, err := v.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
			if err != nil {
				return answer{err: fmt.Errorf("DescribeTargetHealth: %w", err)}
			}
			var have []string
			for _, d := range out.TargetHealthDescriptions {
				if d.Target == nil || (d.TargetHealth != nil && d.TargetHealth.State == "draining") {
					continue
				}
				have = append(have, aws.ToString(d.Target.Id)+":"+strconv.Itoa(int(aws.ToInt32(d.Target.Port))))
			}
			for _, ep := range want {
				if !slices.Contains(have, ep) {
					return answer{missing: ep}
				}
			}
			return answer{verified: true}
		})
		if a.err != nil {
			return false, "", a.err
		}
		if !a.verified {
			return false, fmt.Sprintf("target group %s (TargetGroupBinding %s) has not registered %s yet", arn, b.GetName(), a.missing), nil
		}
	}
	return true, "", nil
}

// servicePort is the Service port a binding's spec.serviceRef.port names
// (a number or a name).
func servicePort(svc *corev1.Service, binding map[string]any) (corev1.ServicePort, bool) {
	v, _, _ := unstructured.NestedFieldNoCopy(binding, "spec", "serviceRef", "port")
	for _, p := range svc.Spec.Ports {
		switch x := v.(type) {
		case string:
			if p.Name == x {
				return p, true
			}
		case int64:
			if int64(p.Port) == x {
				return p, true
			}
		case float64:
			if float64(p.Port) == x {
				return p, true
			}
		}
	}
	return corev1.ServicePort{}, false
}

// endpoints are the ready pods svc selects, as ip:port with the port
// the target group registers (the Service's targetPort, resolved by name
// against the pod's container ports), sorted. Pods rather than
// EndpointSlices: right after a selector switch the slices may still list
// the old pods, or none, and an empty list would verify nothing.
func (v *TargetVerifier) endpoints(ctx context.Context, svc *corev1.Service, port corev1.ServicePort) ([]string, error) {
	if len(svc.Spec.Selector) == 0 {
		return nil, nil
	}
	pods := &corev1.PodList{}
	if err := v.Reader.List(ctx, pods, ctrl.InNamespace(svc.Namespace), ctrl.MatchingLabels(svc.Spec.Selector)); err != nil {
		return nil, fmt.Errorf("listing the pods of Service %s: %w", svc.Name, err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil || !ready(&p) {
			continue
		}
		if n := targetPort(&p, port); n > 0 {
			out = append(out, p.Status.PodIP+":"+strconv.Itoa(int(n)))
		}
	}
	slices.Sort(out)
	return out, nil
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// targetPort is the pod port port sends to: targetPort's number, the
// container port of its name, or the Service port when unset.
func targetPort(p *corev1.Pod, port corev1.ServicePort) int32 {
	switch {
	case port.TargetPort.Type == intstr.String && port.TargetPort.StrVal != "":
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == port.TargetPort.StrVal {
					return cp.ContainerPort
				}
			}
		}
		return 0
	case port.TargetPort.IntVal != 0:
		return port.TargetPort.IntVal
	}
	return port.Port
}
