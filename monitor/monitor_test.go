package monitor

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
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestServe starts the standard monitor, serves it over real HTTP and
// scrapes it: every standard series is there, the registry lints clean,
// /healthz follows the checks, and everything stops with ctx.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	var readings atomic.Int64
	var failing atomic.Bool
	log := &syncBuf{}
	m, err := Start(ctx, Config{Reader: Options{DiskPaths: []string{dir}}, Every: 50 * time.Millisecond,
		OnReading: func(Resources) { readings.Add(1) }, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Health.AddCheck("chain_unreachable", func(context.Context) error {
		if failing.Load() {
			return errors.New("node down")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A process's own series go in the same registry.
	jobs := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pouw_test_jobs", Help: "A process's own series."})
	m.Registry.MustRegister(jobs)
	addr, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr.String()

	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	for _, want := range []string{
		"\npouw_system_cpu_usage_ratio{cpu=\"all\"} ",
		"\npouw_system_memory_total_bytes ",
		"\npouw_system_memory_available_bytes ",
		"\npouw_system_disk_free_bytes{path=\"" + dir + "\"} ",
		"\npouw_system_network_sent_bytes_total ",
		"\npouw_process_resident_memory_bytes ",
		"\npouw_process_open_files ",
		"\npouw_alert_active{condition=\"disk_space\"} 0",
		"\npouw_alert_active{condition=\"no_progress\"} 0",
		"\npouw_alert_active{condition=\"chain_unreachable\"} ",
		"\ngo_goroutines ",
		"\npouw_test_jobs 0",
		"# TYPE pouw_system_disk_read_bytes_total counter",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
	problems, err := testutil.GatherAndLint(m.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	failing.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, base+"/healthz")
		if code == http.StatusServiceUnavailable && body == "chain_unreachable: node down\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never failed: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if readings.Load() < 2 {
		t.Fatalf("%d readings", readings.Load())
	}
	if r, err := m.Latest(ctx); err != nil || r.MemTotalBytes == 0 {
		t.Fatalf("Latest: %v %+v", err, r)
	}

	cancel()
	select {
	case <-m.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("loop did not end with ctx")
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, err := http.Get(base + "/healthz"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server still answering after ctx ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "alert: chain_unreachable") {
		t.Fatalf("check failure not logged:\n%s", log)
	}
}

func TestServeBusyAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := Serve(ctx, "127.0.0.1:0", prometheus.NewRegistry(), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, "http://"+addr.String()+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz without Health: %d %q", code, body)
	}
	if _, err := Serve(ctx, addr.String(), prometheus.NewRegistry(), nil, nil); err == nil || !strings.Contains(err.Error(), addr.String()) {
		t.Fatalf("second listener on %s: %v", addr, err)
	}
}
