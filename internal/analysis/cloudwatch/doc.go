// Package cloudwatch is the CloudWatch metric provider: it runs a metric's
// metricDataQueries with GetMetricData (every page) over the look-back
// window interval, signed with the controller's own AWS identity (the
// default credential chain: IRSA, EKS Pod Identity, environment, instance
// role), and hands the conditions the SDK's MetricDataResult list, as Argo
// Rollouts does: result[0].Values[0].
package cloudwatch
