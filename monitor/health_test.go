package monitor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// syncBuf is a log sink safe for concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time        { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration)   { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock                 { return &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)} }
func count(log *syncBuf, s string) int { return strings.Count(log.String(), s) }
func newTestHealth(cfg HealthConfig) (*Health, *syncBuf, *clock) {
	log, clk := &syncBuf{}, newClock()
	cfg.Logger = slog.New(slog.NewTextHandler(log, nil))
	cfg.Now = clk.now
	return NewHealth(cfg), log, clk
}

// healthy is a reading on which no rule fires.
func healthy() Resources {
	return Resources{Time: time.Now(), MemTotalBytes: 24 << 30, MemAvailableBytes: 20 << 30, SwapTotalBytes: 8 << 30, SwapUsedBytes: 1 << 30,
		Disks: []DiskUsage{{Path: "/home/x", TotalBytes: 250 << 30, FreeBytes: 100 << 30}},
		GPUs:  []GPUStats{{Index: 0, Name: "Test GPU", ThrottleReason: []string{"sw_power_cap"}, Throttled: true, TemperatureC: 70}}}
}

func active(t *testing.T, h *Health, condition string) float64 {
	t.Helper()
	out, err := testutil.CollectAndFormat(h, expfmt.TypeTextPlain, "pouw_alert_active")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, `pouw_alert_active{condition="`+condition+`"} `) {
			switch strings.TrimPrefix(line, `pouw_alert_active{condition="`+condition+`"} `) {
			case "1":
				return 1
			case "0":
				return 0
			}
		}
	}
	t.Fatalf("no pouw_alert_active for %s in\n%s", condition, out)
	return -1
}

// TestRules runs each rule on a reading that triggers it and on one that
// does not; each condition is logged once when it starts, once when it
// clears, and exported while it holds.
func TestRules(t *testing.T) {
	var progress time.Time
	var progressMu sync.Mutex
	for _, tc := range []struct {
		condition string
		bad       func(r *Resources, clk *clock)
		want      string // in the message
	}{
		{DiskSpace, func(r *Resources, _ *clock) {
			r.Disks = append(r.Disks, DiskUsage{Path: "/home/x/store", TotalBytes: 250 << 30, FreeBytes: 1288490189})
		}, "/home/x/store has 1.2 GiB free of 250.0 GiB (0.5%), below 5%"},
		{MemoryPressure, func(r *Resources, _ *clock) { r.MemAvailableBytes = 1 << 29 }, "512.0 MiB of 24.0 GiB memory available (2.1%), below 5%"},
		{MemoryPressure, func(r *Resources, _ *clock) { r.SwapUsedBytes = 6 << 30 }, "6.0 GiB of 8.0 GiB swap in use (75.0%), above 50%"},
		{GPUThrottling, func(r *Resources, _ *clock) {
			r.GPUs[0].ThrottleReason = []string{"sw_power_cap", "hw_thermal_slowdown"}
			r.GPUs[0].TemperatureC = 91
		}, "GPU 0 (Test GPU) throttled by hw_thermal_slowdown at 91 C"},
		{GPUErrors, func(r *Resources, _ *clock) { r.GPUs[0].ECCErrors = 3 }, "GPU 0 (Test GPU) has 3 uncorrected ECC errors"},
		{NoProgress, func(_ *Resources, clk *clock) {
			progressMu.Lock()
			progress = clk.now()
			progressMu.Unlock()
			clk.add(11 * time.Minute)
		}, "no progress for 11m0s"},
	} {
		t.Run(tc.condition, func(t *testing.T) {
			progressMu.Lock()
			progress = time.Time{}
			progressMu.Unlock()
			h, log, clk := newTestHealth(HealthConfig{NoProgressAfter: 10 * time.Minute, Progress: func() time.Time {
				progressMu.Lock()
				defer progressMu.Unlock()
				return progress
			}})
			h.Observe(healthy())
			if !h.Healthy() || active(t, h, tc.condition) != 0 {
				t.Fatalf("healthy reading: %v", h.Problems())
			}
			bad := healthy()
			tc.bad(&bad, clk)
			for range 3 {
				h.Observe(bad)
			}
			ps := h.Problems()
			if len(ps) != 1 || ps[0].Condition != tc.condition || !strings.Contains(ps[0].Message, tc.want) {
				t.Fatalf("problems %v, expected %s: ...%s...", ps, tc.condition, tc.want)
			}
			if active(t, h, tc.condition) != 1 {
				t.Fatal("not exported as active")
			}
			if n := count(log, "alert: "+tc.condition); n != 1 {
				t.Fatalf("logged %d times while it held, expected once:\n%s", n, log)
			}
			if !strings.Contains(log.String(), "level=WARN") {
				t.Fatalf("start not a warning:\n%s", log)
			}
			// Clears.
			progressMu.Lock()
			progress = time.Time{}
			progressMu.Unlock()
			for range 2 {
				h.Observe(healthy())
			}
			if !h.Healthy() || active(t, h, tc.condition) != 0 {
				t.Fatalf("still failing: %v", h.Problems())
			}
			if n := count(log, "alert cleared: "+tc.condition); n != 1 {
				t.Fatalf("clearing logged %d times, expected once:\n%s", n, log)
			}
		})
	}
}

func TestRulesOffAndDefaults(t *testing.T) {
	bad := healthy()
	bad.Disks[0].FreeBytes = 1 << 30
	bad.MemAvailableBytes = 1 << 20
	bad.SwapUsedBytes = bad.SwapTotalBytes
	h, _, _ := newTestHealth(HealthConfig{MinDiskFreePercent: -1, MinMemAvailablePercent: -1, MaxSwapUsedPercent: -1})
	h.Observe(bad)
	if !h.Healthy() {
		t.Fatalf("rules turned off still fire: %v", h.Problems())
	}
	// No swap at all is not swap pressure; no progress source, no rule.
	r := healthy()
	r.SwapTotalBytes, r.SwapUsedBytes = 0, 0
	h, _, _ = newTestHealth(HealthConfig{NoProgressAfter: time.Minute})
	h.Observe(r)
	if !h.Healthy() {
		t.Fatal(h.Problems())
	}
	// A custom throttle list.
	r = healthy()
	h, _, _ = newTestHealth(HealthConfig{ThrottleReasons: []string{"sw_power_cap"}})
	h.Observe(r)
	if ps := h.Problems(); len(ps) != 1 || ps[0].Condition != GPUThrottling {
		t.Fatalf("power cap listed: %v", ps)
	}
}

func TestChecksAndHealthz(t *testing.T) {
	h, log, _ := newTestHealth(HealthConfig{})
	var down error
	var mu sync.Mutex
	if err := h.AddCheck("chain_unreachable", func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return down
	}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"Chain", "disk_space", "chain_unreachable", ""} {
		if err := h.AddCheck(bad, func(context.Context) error { return nil }); err == nil {
			t.Fatalf("AddCheck(%q) accepted", bad)
		}
	}
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	ctx := context.Background()
	h.Evaluate(ctx, healthy())
	if code, body := get(); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthy: %d %q", code, body)
	}
	mu.Lock()
	down = errors.New("node http://127.0.0.1:26657: connection refused")
	mu.Unlock()
	bad := healthy()
	bad.Disks[0].FreeBytes = 1288490189
	h.Evaluate(ctx, bad)
	h.Evaluate(ctx, bad)
	code, body := get()
	want := "disk_space: /home/x has 1.2 GiB free of 250.0 GiB (0.5%), below 5%\nchain_unreachable: node http://127.0.0.1:26657: connection refused\n"
	if code != http.StatusServiceUnavailable || body != want {
		t.Fatalf("failing: %d\n%s\nexpected\n%s", code, body, want)
	}
	if active(t, h, "chain_unreachable") != 1 || count(log, "alert: chain_unreachable") != 1 {
		t.Fatalf("check not exported or not logged once:\n%s", log)
	}
	mu.Lock()
	down = nil
	mu.Unlock()
	h.Evaluate(ctx, healthy())
	if code, _ := get(); code != http.StatusOK || active(t, h, "chain_unreachable") != 0 {
		t.Fatalf("recovered: %d", code)
	}
	if got := h.Conditions(); len(got) != 6 || got[5] != "chain_unreachable" {
		t.Fatalf("conditions %v", got)
	}
	problems, err := testutil.CollectAndLint(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
