// Package deploy holds what operators deploy beside QueueLess: the nginx
// configuration, Prometheus alerting rules (prometheus/) and a Grafana
// dashboard (grafana/). Its only Go is a test that checks them against a
// running server; it must not be imported.
package deploy
