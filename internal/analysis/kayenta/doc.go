// Package kayenta is the Kayenta metric provider: it finds the canary
// configuration by name, starts a canary judgement of the control and
// experiment scopes, polls it every 15 seconds (the measurement stays
// Running meanwhile), and maps its score to the block's thresholds:
// Successful at or above pass, Inconclusive at or above marginal, Failed
// below. Conditions are not used, as in Argo Rollouts.
package kayenta
