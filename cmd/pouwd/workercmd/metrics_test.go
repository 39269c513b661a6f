package workercmd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/pouw/pouwd/monitor"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// downChain is a query client whose node answers Params or not.
type downChain struct {
	types.QueryClient
	down atomic.Bool
}

func (c *downChain) Params(context.Context, *types.QueryParamsRequest, ...grpc.CallOption) (*types.QueryParamsResponse, error) {
	if c.down.Load() {
		return nil, errors.New("connection refused")
	}
	return &types.QueryParamsResponse{}, nil
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestStartMonitoring wires a daemon's monitoring as `miner start` does
// (the flags, a daemon collector, the progress source, the chain check)
// and reads /metrics and /healthz over HTTP.
func TestStartMonitoring(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := NewMinerCommand().Commands()[0]
	dir := t.TempDir()
	if err := cmd.ParseFlags([]string{"--metrics-addr", "127.0.0.1:0", "--metrics-interval", "20ms", "--data-dir", dir}); err != nil {
		t.Fatal(err)
	}
	if f := cmd.Flags().Lookup(flagAlertNoProgress); f == nil || f.DefValue != "10m0s" {
		t.Fatalf("--%s: %+v", flagAlertNoProgress, f)
	}
	chain := &downChain{}
	steps := prometheus.NewCounter(prometheus.CounterOpts{Name: "pouw_miner_steps_total", Help: "Training steps run."})
	steps.Add(7)
	var last atomic.Int64 // unix nanos of the last step, 0: no job
	addr, err := startMonitoring(ctx, cmd, slog.New(slog.DiscardHandler), chain, []string{dir, dir, ""},
		monitor.HealthConfig{NoProgressAfter: time.Minute, Progress: func() time.Time {
			if n := last.Load(); n != 0 {
				return time.Unix(0, n)
			}
			return time.Time{}
		}}, steps)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr.String()
	code, body := fetch(t, base+"/metrics")
	for _, want := range []string{"\npouw_miner_steps_total 7", "\npouw_system_disk_free_bytes{path=\"" + dir + "\"} ",
		"\npouw_alert_active{condition=\"chain_unreachable\"} 0", "\npouw_alert_active{condition=\"no_progress\"} 0"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("/metrics (%d) lacks %q:\n%s", code, want, body)
		}
	}
	if n := strings.Count(body, "pouw_system_disk_free_bytes{"); n != 1 {
		t.Fatalf("%d disk series for one folder watched three times", n)
	}
	if code, body := fetch(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d %q", code, body)
	}
	// The node goes away and a job stalls: both show on /healthz.
	chain.down.Store(true)
	last.Store(time.Now().Add(-2 * time.Minute).UnixNano())
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := fetch(t, base+"/healthz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "no_progress: no progress for 2m") &&
			strings.Contains(body, "chain_unreachable: the node did not answer a query in") && strings.Contains(body, "connection refused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
