// Package monitoring tests the monitoring that ships beside pouwd: the
// Grafana dashboard and Prometheus configuration in scripts/monitoring
// (every PromQL expression parses and reads only series of the metrics
// catalogue, docs/MONITORING.md, or CometBFT's; the committed
// prometheus.yml is what scripts/localnet.sh generates; promtool accepts
// it), and, with POUWD_MONITORING_E2E=1 (`make test-monitoring`), the
// whole chain of it on a real localnet: scripts/demo.sh runs a task with
// the localnet's Prometheus started (scripts/localnet.sh --prometheus), and
// the test reads the chain's, the workers' and the system series back
// through Prometheus's HTTP query API. Test only.
package monitoring
