// Package influxdb is the InfluxDB metric provider: the block's Flux query
// runs through InfluxDB's v2 query API (influxdb-client-go) with the
// address, token and organisation of the profile's Secret, and the
// conditions judge the _value of every record, as Argo Rollouts does.
package influxdb
