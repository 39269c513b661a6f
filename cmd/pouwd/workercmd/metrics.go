package workercmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/pouw/pouwd/miner"
	"github.com/pouw/pouwd/monitor"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// startMonitoring starts a daemon's monitoring when --metrics-addr is
// set: the standard monitor (system, process and GPU series, Go runtime,
// alerts) watching dirs (and --data-dir), the daemon's own collector, a
// chain_unreachable check, and /metrics and /healthz served until ctx
// ends. health carries the daemon's alert settings (the miner's progress
// source); the thresholds common to every daemon come from the flags.
func startMonitoring(ctx context.Context, cmd *cobra.Command, log *slog.Logger, q types.QueryClient, dirs []string,
	health monitor.HealthConfig, daemon prometheus.Collector) (net.Addr, error) {
	addr, _ := cmd.Flags().GetString(flagMetrics)
	if addr == "" {
		return nil, nil
	}
	if dataDir, _ := cmd.Flags().GetString(flagDataDir); dataDir != "" {
		dirs = append(dirs, dataDir)
	}
	var watch []string
	seen := map[string]bool{}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		if !seen[d] {
			seen[d] = true
			watch = append(watch, d)
		}
	}
	every, _ := cmd.Flags().GetDuration(flagMetricsEvery)
	health.MinDiskFreePercent, _ = cmd.Flags().GetFloat64(flagAlertDiskFree)
	mon, err := monitor.Start(ctx, monitor.Config{Reader: monitor.Options{DiskPaths: watch}, Every: every, Health: health, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := mon.Registry.Register(daemon); err != nil {
		return nil, fmt.Errorf("workercmd: daemon metrics: %w", err)
	}
	if err := mon.Health.AddCheck("chain_unreachable", func(ctx context.Context) error {
		start := time.Now()
		if _, err := q.Params(ctx, &types.QueryParamsRequest{}); err != nil {
			return fmt.Errorf("the node did not answer a query in %s: %v", time.Since(start).Round(time.Millisecond), err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return mon.Serve(ctx, addr)
}

// minerChain is the miner's chain client with the block events of
// settlement blocks (miner.BlockEvents), from which the miner counts the
// exact reward each of its accepted proofs was paid.
type minerChain struct{ *worker.Client }

var _ miner.BlockEvents = minerChain{}

// FinalizeBlockEvents returns the events of the block at height's
// finalization (begin and end block), from the node's CometBFT RPC.
func (c minerChain) FinalizeBlockEvents(ctx context.Context, height int64) ([]abci.Event, error) {
	node := c.ClientContext().Client
	if node == nil {
		return nil, errors.New("workercmd: no node RPC client for block results")
	}
	res, err := node.BlockResults(ctx, &height)
	if err != nil {
		return nil, fmt.Errorf("workercmd: block results at height %d: %w", height, err)
	}
	return res.FinalizeBlockEvents, nil
}
