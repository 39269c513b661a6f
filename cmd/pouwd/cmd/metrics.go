package cmd

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cosmos/cosmos-sdk/client/flags"
	servertypes "github.com/cosmos/cosmos-sdk/server/types"

	"github.com/pouw/pouwd/app"
	"github.com/pouw/pouwd/monitor"
)

// The validator's own series (docs/MONITORING.md): CometBFT's
// instrumentation server (config.toml [instrumentation] prometheus = true,
// on prometheus_listen_addr) serves prometheus.DefaultGatherer, so the
// chain module's collector and the system collector are registered with
// prometheus.DefaultRegisterer and appear beside CometBFT's own series on
// the same /metrics. The SDK's telemetry (app.toml [telemetry]) is a
// separate thing and not used for them.

// nodeCollectors are the collectors registered by the last newApp: an
// AppCreator may run more than once in a process (tests, in-process
// networks), and a second registration of the same series would fail, so
// each call replaces the previous app's collectors.
var nodeCollectors struct {
	sync.Mutex
	registered []prometheus.Collector
}

// registerNodeMetrics registers the node's collectors with reg, replacing
// those a previous call registered.
func registerNodeMetrics(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	nodeCollectors.Lock()
	defer nodeCollectors.Unlock()
	for _, c := range nodeCollectors.registered {
		reg.Unregister(c)
	}
	nodeCollectors.registered = nil
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
			continue
		}
		nodeCollectors.registered = append(nodeCollectors.registered, c)
	}
	if len(errs) > 0 {
		return fmt.Errorf("registering the node's Prometheus collectors: %w", errors.Join(errs...))
	}
	return nil
}

// nodeMetricsCollectors are the collectors a node exports besides
// CometBFT's: x/pouwml's state, the machine's and this process's
// resources (pouw_system_*, pouw_process_*, pouw_gpu_*, read at scrape
// time: a node has no sampling loop of its own, and Prometheus's scrape
// interval is then the CPU figures' interval), and pouw_alert_active for
// the resource conditions each reading is checked against.
func nodeMetricsCollectors(a *app.PouwApp, appOpts servertypes.AppOptions) []prometheus.Collector {
	var watch []string
	if home, _ := appOpts.Get(flags.FlagHome).(string); home != "" {
		watch = append(watch, home)
	}
	reader := monitor.NewReader(monitor.Options{DiskPaths: watch})
	health := monitor.NewHealth(monitor.HealthConfig{})
	read := func(ctx context.Context) (monitor.Resources, error) {
		// A part that failed is left zero, which the rules skip, so a
		// partial reading is still checked.
		r, err := reader.Read(ctx)
		if !r.Time.IsZero() {
			health.Observe(r)
		}
		return r, err
	}
	return []prometheus.Collector{a.ChainMetricsCollector(), monitor.NewCollector(read), health}
}
