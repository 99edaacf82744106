// Package demo is what `ramp-sandbox --demo` adds to the sandbox so a
// person sees progressive delivery work with real traffic and real KPIs:
//
//   - Pods (a cluster.PodServer): the simulated nodes serve every pod whose
//     image starts with ramp-demo-app with a real HTTP server on the pod's
//     own IP, port 8080. "/" answers with the version (the image tag);
//     "/metrics" exposes http_requests_total{code} and the
//     http_request_duration_seconds histogram. The container's ERROR_RATE
//     (0 to 1) and LATENCY_MS shape it; the tag "bad" defaults to 30%
//     errors.
package demo
