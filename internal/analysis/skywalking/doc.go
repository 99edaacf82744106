// Package skywalking is the Apache SkyWalking metric provider: the block's
// GraphQL query is sent to the OAP server's /graphql with a $duration
// variable covering interval (minute steps), and the conditions judge the
// answer's data object, as Argo Rollouts does.
package skywalking
