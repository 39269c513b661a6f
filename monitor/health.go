package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pouw/pouwd/accel/nvml"
)

// The built-in conditions (the condition label of pouw_alert_active).
const (
	DiskSpace      = "disk_space"
	MemoryPressure = "memory_pressure"
	GPUThrottling  = "gpu_throttling"
	GPUErrors      = "gpu_errors"
	NoProgress     = "no_progress"
)

// builtin lists the built-in conditions in the order they are reported.
var builtin = []string{DiskSpace, MemoryPressure, GPUThrottling, GPUErrors, NoProgress}

// Defaults of HealthConfig.
const (
	DefaultMinDiskFreePercent     = 5.0
	DefaultMinMemAvailablePercent = 5.0
	DefaultMaxSwapUsedPercent     = 50.0
	// checkTimeout bounds one process check (AddCheck).
	checkTimeout = 10 * time.Second
)

// HealthConfig sets the alert rules' thresholds. Zero values take the
// defaults; a negative threshold turns its rule off.
type HealthConfig struct {
	// MinDiskFreePercent: disk_space holds while a watched folder's file
	// system has less free space than this percentage (default 5).
	MinDiskFreePercent float64
	// MinMemAvailablePercent: memory_pressure holds while available
	// memory is below this percentage of RAM (default 5) ...
	MinMemAvailablePercent float64
	// MaxSwapUsedPercent: ... or swap in use is above this percentage of
	// the swap space (default 50; no swap, no rule).
	MaxSwapUsedPercent float64
	// ThrottleReasons: gpu_throttling holds while a GPU's clocks are held
	// down for one of these reasons (default nvml.AlertReasons: thermal
	// and hardware slowdowns, not the power cap a busy GPU runs at).
	ThrottleReasons []string
	// Progress returns when the process last made progress (a miner: its
	// last training step), or the zero time when nothing is expected to
	// progress now (no job training). With NoProgressAfter > 0,
	// no_progress holds while the last progress is older than that.
	Progress        func() time.Time
	NoProgressAfter time.Duration
	// Logger gets one line when a condition starts and one when it
	// clears (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now; tests inject one).
	Now func() time.Time
}

func (c *HealthConfig) defaults() {
	if c.MinDiskFreePercent == 0 {
		c.MinDiskFreePercent = DefaultMinDiskFreePercent
	}
	if c.MinMemAvailablePercent == 0 {
		c.MinMemAvailablePercent = DefaultMinMemAvailablePercent
	}
	if c.MaxSwapUsedPercent == 0 {
		c.MaxSwapUsedPercent = DefaultMaxSwapUsedPercent
	}
	if c.ThrottleReasons == nil {
		c.ThrottleReasons = nvml.AlertReasons
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Problem is a condition that holds.
type Problem struct {
	Condition string
	// Message says what is wrong, with the numbers.
	Message string
	// Since is when the condition started.
	Since time.Time
}

func (p Problem) String() string { return p.Condition + ": " + p.Message }

// Health evaluates the alert rules on each reading (Observe) and the
// process's own checks (RunChecks), remembers which conditions hold, logs
// each condition once when it starts and once when it clears, exports
// pouw_alert_active{condition} (it is a prometheus.Collector) and answers
// /healthz (it is an http.Handler). It is safe for concurrent use.
type Health struct {
	cfg HealthConfig
	log *slog.Logger

	mu     sync.Mutex
	active map[string]Problem
	checks map[string]func(context.Context) error
	order  []string // conditions in report order: built-in, then checks as added

	desc *prometheus.Desc
}

// NewHealth returns a Health with no condition holding.
func NewHealth(cfg HealthConfig) *Health {
	cfg.defaults()
	return &Health{cfg: cfg, log: cfg.Logger, active: map[string]Problem{}, checks: map[string]func(context.Context) error{},
		order: slices.Clone(builtin),
		desc:  prometheus.NewDesc("pouw_alert_active", "1 while the alert condition holds (docs/MONITORING.md).", []string{"condition"}, nil)}
}

var conditionName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// AddCheck adds a process's own condition (e.g. "chain_unreachable"): it
// holds while check returns an error, whose text is the message. Checks
// run in RunChecks (the monitor's loop), each with a 10 s deadline, not
// when /healthz is asked, so a slow check never blocks a probe.
func (h *Health) AddCheck(condition string, check func(ctx context.Context) error) error {
	if !conditionName.MatchString(condition) {
		return fmt.Errorf("monitor: check name %q: expected lower_snake_case", condition)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if slices.Contains(h.order, condition) {
		return fmt.Errorf("monitor: condition %q already exists", condition)
	}
	h.checks[condition] = check
	h.order = append(h.order, condition)
	return nil
}

// Conditions lists every condition Health reports, in report order.
func (h *Health) Conditions() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.order)
}

// Evaluate runs the alert rules on a reading and the process checks.
func (h *Health) Evaluate(ctx context.Context, r Resources) {
	h.Observe(r)
	h.RunChecks(ctx)
}

// Observe runs the built-in alert rules on a reading.
func (h *Health) Observe(r Resources) {
	h.set(DiskSpace, h.diskSpace(r))
	h.set(MemoryPressure, h.memoryPressure(r))
	h.set(GPUThrottling, h.gpuThrottling(r))
	h.set(GPUErrors, gpuErrors(r))
	h.set(NoProgress, h.noProgress())
}

// RunChecks runs the process checks (AddCheck), one after the other.
func (h *Health) RunChecks(ctx context.Context) {
	h.mu.Lock()
	names := make([]string, 0, len(h.checks))
	for _, n := range h.order {
		if h.checks[n] != nil {
			names = append(names, n)
		}
	}
	checks := maps.Clone(h.checks)
	h.mu.Unlock()
	for _, n := range names {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := checks[n](cctx)
		cancel()
		if ctx.Err() != nil {
			return // shutting down: a failure now says nothing
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		h.set(n, msg)
	}
}

// set records whether condition holds (msg not empty) and logs a change.
func (h *Health) set(condition, msg string) {
	h.mu.Lock()
	prev, was := h.active[condition]
	now := h.cfg.Now()
	switch {
	case msg != "" && !was:
		h.active[condition] = Problem{Condition: condition, Message: msg, Since: now}
	case msg != "":
		prev.Message = msg // the numbers move; the start stays
		h.active[condition] = prev
	case was:
		delete(h.active, condition)
	}
	h.mu.Unlock()
	switch {
	case msg != "" && !was:
		h.log.Warn("alert: "+condition, "condition", condition, "problem", msg)
	case msg == "" && was:
		h.log.Info("alert cleared: "+condition, "condition", condition, "lasted", now.Sub(prev.Since).Round(time.Second).String(), "was", prev.Message)
	}
}

// Problems returns the conditions that hold, in report order.
func (h *Health) Problems() []Problem {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Problem
	for _, c := range h.order {
		if p, ok := h.active[c]; ok {
			out = append(out, p)
		}
	}
	return out
}

// Healthy reports whether no condition holds.
func (h *Health) Healthy() bool { return len(h.Problems()) == 0 }

// ServeHTTP answers /healthz: 200 "ok", or 503 with one line per
// condition that holds, saying what is wrong.
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ps := h.Problems()
	if len(ps) == 0 {
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(b.String()))
}

// Describe implements prometheus.Collector.
func (h *Health) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector: pouw_alert_active for every
// condition, 0 or 1.
func (h *Health) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.order {
		v := 0.0
		if _, ok := h.active[c]; ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(h.desc, prometheus.GaugeValue, v, c)
	}
}

// The rules: each returns the problem's message, or "" when the
// condition does not hold.

func (h *Health) diskSpace(r Resources) string {
	min := h.cfg.MinDiskFreePercent
	if min < 0 {
		return ""
	}
	var bad []string
	seen := map[string]bool{}
	for _, d := range r.Disks {
		if d.TotalBytes == 0 || seen[d.Path] {
			continue
		}
		seen[d.Path] = true
		if free := pct(d.FreeBytes, d.TotalBytes); free < min {
			bad = append(bad, fmt.Sprintf("%s has %s free of %s (%.1f%%), below %g%%", d.Path, Bytes(d.FreeBytes), Bytes(d.TotalBytes), free, min))
		}
	}
	return strings.Join(bad, "; ")
}

func (h *Health) memoryPressure(r Resources) string {
	var bad []string
	if min := h.cfg.MinMemAvailablePercent; min >= 0 && r.MemTotalBytes > 0 {
		if avail := pct(r.MemAvailableBytes, r.MemTotalBytes); avail < min {
			bad = append(bad, fmt.Sprintf("%s of %s memory available (%.1f%%), below %g%%", Bytes(r.MemAvailableBytes), Bytes(r.MemTotalBytes), avail, min))
		}
	}
	if max := h.cfg.MaxSwapUsedPercent; max >= 0 && r.SwapTotalBytes > 0 {
		if used := pct(r.SwapUsedBytes, r.SwapTotalBytes); used > max {
			bad = append(bad, fmt.Sprintf("%s of %s swap in use (%.1f%%), above %g%%", Bytes(r.SwapUsedBytes), Bytes(r.SwapTotalBytes), used, max))
		}
	}
	return strings.Join(bad, "; ")
}

func (h *Health) gpuThrottling(r Resources) string {
	var bad []string
	for _, g := range r.GPUs {
		var why []string
		for _, reason := range g.ThrottleReason {
			if slices.Contains(h.cfg.ThrottleReasons, reason) {
				why = append(why, reason)
			}
		}
		if len(why) == 0 {
			continue
		}
		s := fmt.Sprintf("GPU %d (%s) throttled by %s at %d C, %.0f of %.0f W", g.Index, g.Name, strings.Join(why, ", "), g.TemperatureC, g.PowerWatts, g.PowerLimitW)
		if g.MaxSMClockMHz > 0 {
			s += fmt.Sprintf(", SM clock %d of %d MHz", g.SMClockMHz, g.MaxSMClockMHz)
		}
		bad = append(bad, s)
	}
	return strings.Join(bad, "; ")
}

func gpuErrors(r Resources) string {
	var bad []string
	for _, g := range r.GPUs {
		if g.ECCErrors > 0 {
			bad = append(bad, fmt.Sprintf("GPU %d (%s) has %d uncorrected ECC errors since the driver loaded (reset the GPU or reboot; its results may be wrong)", g.Index, g.Name, g.ECCErrors))
		}
	}
	return strings.Join(bad, "; ")
}

func (h *Health) noProgress() string {
	if h.cfg.Progress == nil || h.cfg.NoProgressAfter <= 0 {
		return ""
	}
	last := h.cfg.Progress()
	if last.IsZero() {
		return ""
	}
	if idle := h.cfg.Now().Sub(last); idle > h.cfg.NoProgressAfter {
		return fmt.Sprintf("no progress for %s (last at %s), limit %s", idle.Round(time.Second), last.Format(time.RFC3339), h.cfg.NoProgressAfter)
	}
	return ""
}

func pct(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole) * 100
}

// Bytes formats a byte count in binary units ("1.2 GiB").
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
