// Package ambassador is the Emissary-ingress (Ambassador) traffic router:
// for each Mapping the rollout names it owns a canary Mapping,
// <mapping>-canary, a copy of it sent to the canary Service with the canary
// weight (Emissary gives the base Mapping the rest), as Argo Rollouts'
// Ambassador router does. At weight 0 the copy is first set to 0, then
// deleted the next time weight 0 is asked for. Mappings are read and written
// untyped, with their resourceVersion.
package ambassador
