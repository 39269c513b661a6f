package p2pcmd

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/pouw/pouwd/monitor"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Flags of the storage peer's monitoring.
const (
	flagMetrics       = "metrics-addr"
	flagMetricsEvery  = "metrics-interval"
	flagAlertDiskFree = "alert-disk-free"
)

func addMetricsFlags(cmd *cobra.Command) {
	cmd.Flags().String(flagMetrics, "", "serve Prometheus metrics (/metrics) and a health check (/healthz) on this address (e.g. 127.0.0.1:26690)")
	cmd.Flags().Duration(flagMetricsEvery, monitor.DefaultEvery, "period of the resource readings behind the system series and the alerts")
	cmd.Flags().Float64(flagAlertDiskFree, monitor.DefaultMinDiskFreePercent, "disk_space alert: a watched folder's file system below this percentage free (negative: off)")
}

// storageCollector exports the storage peer's pouw_storage_* series
// (docs/MONITORING.md), read at scrape time: the store's usage (a walk of
// its directory entries), the service's traffic, the sync's repairs and
// the host's connections.
type storageCollector struct {
	svc *p2p.Service
	sp  *p2p.StoragePeer
	log *slog.Logger

	shards, held, served, fetched, repairs, peers *prometheus.Desc
}

func newStorageCollector(svc *p2p.Service, sp *p2p.StoragePeer, log *slog.Logger) *storageCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &storageCollector{svc: svc, sp: sp, log: log,
		shards:  d("pouw_storage_shards_held", "Dataset shards this storage peer holds."),
		held:    d("pouw_storage_held_bytes", "Bytes this storage peer's store holds (shards, checkpoints, models)."),
		served:  d("pouw_storage_served_bytes_total", "Payload bytes sent to peers (shards, checkpoints and models served; shards pushed)."),
		fetched: d("pouw_storage_fetched_bytes_total", "Payload bytes received from peers (fetches, verified or not; shards pushed here)."),
		repairs: d("pouw_storage_repairs_total", "Shards placed here that a sync re-fetched from other peers or rebuilt from k others."),
		peers:   d("pouw_storage_peers", "Connected libp2p peers."),
	}
}

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.shards, c.held, c.served, c.fetched, c.repairs, c.peers} {
		ch <- d
	}
}

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	if st := c.svc.Store(); st != nil {
		if u, err := st.Usage(); err == nil {
			ch <- prometheus.MustNewConstMetric(c.shards, prometheus.GaugeValue, float64(u.Shards))
			ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(u.Bytes))
		} else {
			c.log.Warn("store usage for metrics", "err", err)
		}
	}
	tr := c.svc.Traffic()
	ch <- prometheus.MustNewConstMetric(c.served, prometheus.CounterValue, float64(tr.ServedBytes))
	ch <- prometheus.MustNewConstMetric(c.fetched, prometheus.CounterValue, float64(tr.FetchedBytes))
	if c.sp != nil {
		ch <- prometheus.MustNewConstMetric(c.repairs, prometheus.CounterValue, float64(c.sp.Repairs()))
	}
	ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(len(c.svc.Host().Network().Peers())))
}

// startMonitoring starts the storage peer's monitoring when --metrics-addr
// is set: the standard monitor watching the home and store folders, the
// storage series, a chain_unreachable check, served until ctx ends.
func startMonitoring(ctx context.Context, cmd *cobra.Command, home, storeDir string, q types.QueryClient, svc *p2p.Service, sp *p2p.StoragePeer, log *slog.Logger) error {
	addr, _ := cmd.Flags().GetString(flagMetrics)
	if addr == "" {
		return nil
	}
	every, _ := cmd.Flags().GetDuration(flagMetricsEvery)
	diskFree, _ := cmd.Flags().GetFloat64(flagAlertDiskFree)
	mon, err := monitor.Start(ctx, monitor.Config{Reader: monitor.Options{DiskPaths: []string{home, storeDir}}, Every: every,
		Health: monitor.HealthConfig{MinDiskFreePercent: diskFree}, Logger: log})
	if err != nil {
		return err
	}
	if err := mon.Registry.Register(newStorageCollector(svc, sp, log)); err != nil {
		return fmt.Errorf("p2pcmd: storage metrics: %w", err)
	}
	if err := mon.Health.AddCheck("chain_unreachable", chainCheck(q)); err != nil {
		return err
	}
	_, err = mon.Serve(ctx, addr)
	return err
}

// chainCheck is the chain_unreachable condition: the node does not answer
// a parameters query (the peer then cannot follow the ring).
func chainCheck(q types.QueryClient) func(context.Context) error {
	return func(ctx context.Context) error {
		start := time.Now()
		if _, err := q.Params(ctx, &types.QueryParamsRequest{}); err != nil {
			return fmt.Errorf("the node did not answer a query in %s: %v", time.Since(start).Round(time.Millisecond), err)
		}
		return nil
	}
}
