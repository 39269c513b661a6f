package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultEvery is the default period of a Monitor's readings.
const DefaultEvery = 15 * time.Second

// Config configures Start.
type Config struct {
	// Reader says what to read (the watched folders, the process).
	Reader Options
	// Every is the period of the readings (default 15 s).
	Every time.Duration
	// Health configures the alert rules.
	Health HealthConfig
	// OnReading, when set, gets every reading (a run report's resource
	// history), on the monitor's goroutine: it must not block.
	OnReading func(Resources)
	// Logger (default slog.Default()); Health logs to it too unless
	// Health.Logger is set.
	Logger *slog.Logger
}

// Monitor is a process's standard monitoring: a Reader read every Every
// on its own goroutine, each reading fed to Health, and a registry with
// the standard collectors (system, process and GPU series of the newest
// reading, the Go runtime's go_* series, pouw_alert_active). A process
// registers its own collectors in Registry and serves it with Serve.
type Monitor struct {
	Registry *prometheus.Registry
	Health   *Health

	reader    *Reader
	every     time.Duration
	log       *slog.Logger
	onReading func(Resources)
	done      chan struct{}

	mu      sync.Mutex
	latest  Resources
	lastErr string // the last reading error logged (each new one is logged once)
}

// Start builds the Monitor and starts its loop, which ends (and releases
// NVML) when ctx ends. The first reading is taken at once.
func Start(ctx context.Context, cfg Config) (*Monitor, error) {
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Health.Logger == nil {
		cfg.Health.Logger = cfg.Logger
	}
	m := &Monitor{Registry: prometheus.NewRegistry(), Health: NewHealth(cfg.Health), reader: NewReader(cfg.Reader),
		every: cfg.Every, log: cfg.Logger, onReading: cfg.OnReading, done: make(chan struct{})}
	for _, c := range []prometheus.Collector{NewCollector(m.Latest), collectors.NewGoCollector(), m.Health} {
		if err := m.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("monitor: register: %w", err)
		}
	}
	go m.loop(ctx)
	return m, nil
}

// Done is closed once the loop has ended.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Reader is the monitor's Reader.
func (m *Monitor) Reader() *Reader { return m.reader }

// Latest returns the newest reading; before the loop's first one it
// reads now.
func (m *Monitor) Latest(ctx context.Context) (Resources, error) {
	m.mu.Lock()
	r := m.latest
	m.mu.Unlock()
	if !r.Time.IsZero() {
		return r, nil
	}
	r, err := m.reader.Read(ctx)
	m.store(r)
	return r, err
}

func (m *Monitor) store(r Resources) {
	if r.Time.IsZero() {
		return
	}
	m.mu.Lock()
	if r.Time.After(m.latest.Time) {
		m.latest = r
	}
	m.mu.Unlock()
}

func (m *Monitor) loop(ctx context.Context) {
	defer close(m.done)
	defer m.reader.Close()
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		r, err := m.reader.Read(ctx)
		if ctx.Err() != nil {
			return
		}
		m.noteErr(err)
		m.store(r)
		if !r.Time.IsZero() {
			m.Health.Evaluate(ctx, r)
			if m.onReading != nil {
				m.onReading(r)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// noteErr logs a reading error once, not every period, and says when
// readings work again.
func (m *Monitor) noteErr(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	m.mu.Lock()
	prev := m.lastErr
	m.lastErr = msg
	m.mu.Unlock()
	switch {
	case msg != "" && msg != prev:
		m.log.Warn("resource reading incomplete", "err", err)
	case msg == "" && prev != "":
		m.log.Info("resource readings complete again")
	}
}

// Serve serves /metrics (what g gathers) and /healthz (h; nil: always
// ok) on addr until ctx ends. It returns once listening, with the
// address it listens on (addr may name port 0), or the listen error.
func (m *Monitor) Serve(ctx context.Context, addr string) (net.Addr, error) {
	return Serve(ctx, addr, m.Registry, m.Health, m.log)
}

// Serve serves /metrics (what g gathers) and /healthz (h; nil: always
// ok) on addr until ctx ends. It returns once listening, with the
// address it listens on (addr may name port 0), or the listen error.
func Serve(ctx context.Context, addr string, g prometheus.Gatherer, h *Health, log *slog.Logger) (net.Addr, error) {
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("monitor: metrics listener on %s: %w", addr, err)
	}
	var health http.Handler = h
	if h == nil {
		health = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	}
	mux := http.NewServeMux()
	// ContinueOnError: one failing collector must not hide every other
	// series of the process.
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: promLog{log}}))
	mux.Handle("/healthz", health)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("pouwd: /metrics (Prometheus), /healthz\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("monitoring", "metrics", "http://"+ln.Addr().String()+"/metrics", "healthz", "http://"+ln.Addr().String()+"/healthz")
	return ln.Addr(), nil
}

// promLog adapts slog to promhttp's error log.
type promLog struct{ log *slog.Logger }

func (l promLog) Println(v ...any) { l.log.Warn("metrics: " + fmt.Sprint(v...)) }
