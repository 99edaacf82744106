// Package notify sends notifications about releases in the format Argo
// Rollouts users already have: the ConfigMap ramp-notification-configmap
// and the Secret ramp-notification-secret in the controller's namespace,
// with argoproj/notifications-engine's triggers, templates and services,
// and subscriptions in annotations (notifications.ramp.dev/subscribe.<trigger>.<service>,
// and Argo's notifications.argoproj.io/... read too).
//
// As in Argo Rollouts, a notification starts from a Kubernetes event the
// controller records on a Rollout, AnalysisRun or Experiment: its reason
// names the trigger (RolloutCompleted is on-rollout-completed). Unlike
// Argo Rollouts, sending is not done inside the reconcile: the event is
// queued and sent by workers, retried with backoff when a service fails,
// and each delivery is recorded on the object (the annotation
// notified.notifications.ramp.dev), so that a replayed event (a reconcile
// repeated after a crash, or by another replica after a handover) does not
// notify twice.
package notify
