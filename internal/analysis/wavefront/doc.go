// Package wavefront is the Wavefront (VMware Aria Operations for
// Applications) metric provider: the block's query goes to the chart API
// of address, authenticated by that address's token in the Secret
// wavefront-api-tokens, and each series' point closest to the measurement's
// start is judged, as Argo Rollouts does.
package wavefront
