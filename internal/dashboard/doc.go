// Package dashboard is Ramp's web UI: the rollouts of a namespace, a
// rollout (its steps, revisions, traffic and analysis, with the actions of
// the CLI) and an AnalysisRun's measurements plotted against its
// conditions.
//
// Every API request is made as the viewer (Identity): with the user's
// kubeconfig when run locally (`ramp dashboard`), with the bearer token of
// the request, or as the user an authenticating proxy names (impersonated)
// when run in a cluster, so Kubernetes RBAC decides what each viewer sees
// and may do. Without credentials in a cluster the server refuses; it never
// acts with its own rights for a viewer.
//
// Pages are server-rendered html/template; a small script in assets/ keeps
// them live: each page opens a Server-Sent Events stream, and the server
// watches, with the viewer's credentials, only what that page shows,
// pushing the page's live region again when it changes. Actions are
// internal/operate's, carrying the state the page showed, so a button
// pressed on a state that has moved on is refused. Writes need the CSRF
// token of the page (double-submit cookie) and a same-origin request.
package dashboard
