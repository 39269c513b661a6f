package cmd

import (
	"strings"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/viper"

	"cosmossdk.io/log/v2"

	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/pouw/pouwd/app"
)

// A second AppCreator call in one process replaces the first one's
// collectors instead of failing on series already registered.
func TestRegisterNodeMetricsReplaces(t *testing.T) {
	reg := prometheus.NewRegistry()
	gauge := func(v float64) prometheus.Collector {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pouw_test_value", Help: "test"})
		g.Set(v)
		return g
	}
	if err := registerNodeMetrics(reg, gauge(1)); err != nil {
		t.Fatal(err)
	}
	if err := registerNodeMetrics(reg, gauge(2)); err != nil {
		t.Fatalf("second registration: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 || mfs[0].GetMetric()[0].GetGauge().GetValue() != 2 {
		t.Fatalf("gathered %v, want pouw_test_value 2 alone", mfs)
	}
	if err := registerNodeMetrics(reg); err != nil {
		t.Fatal(err)
	}
}

// A node's collectors gather without error before the first block: the
// system series and pouw_alert_active are there, the chain module's
// series wait for a committed height instead of failing the scrape.
func TestNodeMetricsBeforeFirstBlock(t *testing.T) {
	v := viper.New()
	v.Set(flags.FlagHome, t.TempDir())
	a := app.NewPouwApp(log.NewNopLogger(), dbm.NewMemDB(), true, v)
	reg := prometheus.NewRegistry()
	for _, c := range nodeMetricsCollectors(a, v) {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering the node's collectors: %v", err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
		if strings.HasPrefix(mf.GetName(), "pouw_chain_") {
			t.Errorf("%s exported before any block was committed", mf.GetName())
		}
	}
	for _, want := range []string{"pouw_system_memory_total_bytes", "pouw_system_cpu_usage_ratio", "pouw_process_resident_memory_bytes", "pouw_alert_active"} {
		if !got[want] {
			t.Errorf("no %s among the node's series", want)
		}
	}
}
