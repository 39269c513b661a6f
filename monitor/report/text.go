package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Print writes r for a reader: the run, config, dataset, an epochs table,
// step-time statistics, the resource summary, the profile table, memory,
// environment and the advice with its evidence. Each section starts with
// its name on a line of its own.
func Print(w io.Writer, r *Report) error {
	p := &printer{w: w}
	p.run(r)
	p.config(r.Config)
	p.dataset(r.Dataset)
	p.epochs(r.Epochs)
	p.steps(r.Steps)
	p.resources(r.Resources)
	p.profile(r.Profile)
	p.memory(r.Memory)
	p.environment(r.Environment)
	p.advice(r.Advice)
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

// table writes rows aligned in columns, indented.
func (p *printer) table(header []string, rows [][]string) {
	if p.err != nil {
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  %s\t\n", strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t\n", strings.Join(r, "\t"))
	}
	p.err = tw.Flush()
}

func (p *printer) run(r *Report) {
	p.f("run\n")
	id := ""
	if r.ID != "" {
		id = " " + r.ID
	}
	p.f("  %s%s, started %s, %s\n", r.Kind, id, r.StartedAt.Local().Format(time.DateTime), fmtSeconds(r.DurationSeconds))
}

func (p *printer) config(c Config) {
	p.f("config\n")
	model := fmt.Sprintf("%s (%s parameters", orDash(c.Model), siCount(float64(c.Params), ""))
	if c.FLOPsPerSample > 0 {
		model += fmt.Sprintf(", %s forward per sample", siCount(float64(c.FLOPsPerSample), "FLOP"))
	}
	p.f("  model      %s)\n", model)
	batch := fmt.Sprintf("%d", c.Batch)
	if c.MicroBatch > 0 {
		batch += fmt.Sprintf(" (micro-batches of %d)", c.MicroBatch)
	}
	if c.Epochs > 0 {
		batch += fmt.Sprintf(", %d epoch(s)", c.Epochs)
	}
	p.f("  batch      %s, %d steps planned\n", batch, c.Steps)
	opt := fmt.Sprintf("%s, lr %g", orDash(c.Optimizer), c.LR)
	if c.Momentum != 0 {
		opt += fmt.Sprintf(", momentum %g", c.Momentum)
	}
	if c.WeightDecay != 0 {
		opt += fmt.Sprintf(", weight decay %g", c.WeightDecay)
	}
	p.f("  optimizer  %s\n", opt)
	rec := "off"
	if c.Recompute > 0 {
		rec = fmt.Sprintf("every %d residual blocks", c.Recompute)
	}
	p.f("  precision  %s, recompute %s, seed %d\n", orDash(c.Precision), rec, c.Seed)
	p.f("  devices    %d x %s, %d thread(s) each\n", max(c.Devices, 1), orDash(c.Backend), c.Threads)
	if len(c.Labels) > 0 {
		keys := make([]string, 0, len(c.Labels))
		for k := range c.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+c.Labels[k])
		}
		p.f("  labels     %s\n", strings.Join(kv, " "))
	}
}

func (p *printer) dataset(d Dataset) {
	p.f("dataset\n")
	s := fmt.Sprintf("%s: %d training samples", orDash(d.Name), d.Samples)
	if d.TestSamples > 0 {
		s += fmt.Sprintf(", %d held out", d.TestSamples)
	}
	s += fmt.Sprintf(", shape %v, %d classes", d.Shape, d.Classes)
	p.f("  %s\n", s)
	if d.Hash != "" {
		p.f("  sha256 %s (%s)\n", d.Hash, orDash(d.HashOf))
	}
}

func (p *printer) epochs(es []Epoch) {
	p.f("epochs\n")
	if len(es) == 0 {
		p.f("  none recorded\n")
		return
	}
	// One column per held-out metric any epoch has.
	var held []string
	seen := map[string]bool{}
	for _, e := range es {
		for k := range e.HeldOut {
			if !seen[k] {
				seen[k] = true
				held = append(held, k)
			}
		}
	}
	sort.Strings(held)
	header := []string{"epoch", "steps", "loss", "accuracy"}
	for _, k := range held {
		header = append(header, "held-out "+k)
	}
	header = append(header, "seconds", "samples/s")
	var rows [][]string
	for _, e := range es {
		ep := fmt.Sprint(e.Epoch)
		if e.Partial {
			ep += " (partial)"
		}
		acc := "-"
		if e.Accuracy != nil {
			acc = fmt.Sprintf("%.2f%%", 100**e.Accuracy)
		}
		row := []string{ep, fmt.Sprint(e.Steps), fmtFloat(e.Loss), acc}
		for _, k := range held {
			v, ok := e.HeldOut[k]
			switch {
			case !ok:
				row = append(row, "-")
			case strings.Contains(k, "accuracy") || strings.Contains(k, "f1") || strings.Contains(k, "precision") || strings.Contains(k, "recall"):
				row = append(row, fmt.Sprintf("%.2f%%", 100*float64(v)))
			default:
				row = append(row, fmtFloat(v))
			}
		}
		row = append(row, fmt.Sprintf("%.2f", e.Seconds), Rate(e.SamplesPerSecond))
		rows = append(rows, row)
	}
	p.table(header, rows)
}

func (p *printer) steps(s StepStats) {
	p.f("step times\n")
	if s.Count == 0 {
		p.f("  none recorded\n")
		return
	}
	p.f("  %d steps, %d samples, %s in steps, %s samples/s\n", s.Count, s.Samples, fmtSeconds(s.TotalSeconds), Rate(s.SamplesPerSecond))
	p.table([]string{"mean", "min", "p50", "p90", "p99", "max"}, [][]string{{
		fmtSeconds(s.MeanSeconds), fmtSeconds(s.MinSeconds), fmtSeconds(s.P50Seconds),
		fmtSeconds(s.P90Seconds), fmtSeconds(s.P99Seconds), fmtSeconds(s.MaxSeconds)}})
	p.f("  series: %d of %d steps kept (every %d)\n", s.Series.Len(), s.Series.Offered(), s.Series.Stride())
}

func (p *printer) resources(r Resources) {
	p.f("resources\n")
	s := r.Summary
	if s.Readings == 0 {
		p.f("  no readings")
		if s.Errors > 0 {
			p.f(" (%d failed: %s)", s.Errors, s.LastError)
		}
		p.f("\n")
		return
	}
	p.f("  %d readings every %s (%d kept)", s.Readings, fmtSeconds(r.IntervalSeconds), r.History.Len())
	if s.Errors > 0 {
		p.f(", %d failed (last: %s)", s.Errors, s.LastError)
	}
	p.f("\n")
	p.f("  peak RSS %s, mean RSS %s\n", fmtBytes(s.PeakRSSBytes), fmtBytes(s.MeanRSSBytes))
	cores := ""
	if s.Cores > 0 {
		cores = fmt.Sprintf(" of %d cores", s.Cores)
	}
	p.f("  CPU mean %.1f%%, peak %.1f%%%s; process mean %.1f%%\n", s.MeanCPUPercent, s.PeakCPUPercent, cores, s.MeanProcessCPUPercent)
	p.f("  memory: total %s, lowest available %s", fmtBytes(s.MemTotalBytes), fmtBytes(s.MinMemAvailableBytes))
	if s.PeakSwapUsedBytes > 0 {
		p.f(", peak swap used %s", fmtBytes(s.PeakSwapUsedBytes))
	}
	p.f("\n")
	if len(s.GPUs) == 0 {
		p.f("  GPU: none\n")
		return
	}
	var rows [][]string
	for _, g := range s.GPUs {
		rows = append(rows, []string{fmt.Sprintf("gpu%d", g.Index), g.Name, fmt.Sprintf("%.0f%%", g.MeanUtilPercent), fmt.Sprintf("%.0f%%", g.PeakUtilPercent),
			fmt.Sprintf("%s / %s", fmtBytes(g.PeakMemUsedBytes), fmtBytes(g.MemTotalBytes)), fmt.Sprintf("%.0f W", g.MeanPowerWatts),
			fmt.Sprint(g.ThrottledReadings)})
	}
	p.table([]string{"GPU", "name", "mean util", "peak util", "peak memory", "mean power", "throttled readings"}, rows)
}

func (p *printer) profile(rows []OpProfile) {
	p.f("profile\n")
	if len(rows) == 0 {
		p.f("  none recorded\n")
		return
	}
	sorted := append([]OpProfile(nil), rows...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Seconds > sorted[j].Seconds })
	var out [][]string
	for _, r := range sorted {
		out = append(out, []string{r.Op, fmt.Sprint(r.Calls), fmt.Sprintf("%.3f", r.Seconds), fmt.Sprintf("%.1f%%", 100*r.Share),
			fmt.Sprintf("%.2f", r.GFLOPS), fmtBytes(r.Bytes), siCount(float64(r.FLOPs), "")})
	}
	p.table([]string{"op", "calls", "seconds", "share", "GFLOP/s", "bytes", "FLOP"}, out)
}

func (p *printer) memory(m Memory) {
	p.f("memory\n")
	p.f("  predicted step peak %s, measured peak RSS %s, measured peak Go heap %s, available %s\n",
		orDashBytes(m.PredictedPeakBytes), orDashBytes(m.MeasuredPeakRSSBytes), orDashBytes(m.MeasuredPeakHeapBytes), orDashBytes(m.AvailableBytes))
}

func (p *printer) environment(e Environment) {
	p.f("environment\n")
	p.f("  cpu %s, %d logical cores, memory %s\n", orDash(e.CPUModel), e.CPUCores, orDashBytes(e.MemoryTotalBytes))
	for _, g := range e.GPUs {
		p.f("  gpu%d %s, memory %s", g.Index, g.Name, fmtBytes(g.MemoryTotalBytes))
		if g.Driver != "" {
			p.f(", driver %s", g.Driver)
		}
		p.f("\n")
	}
	host := ""
	if e.Hostname != "" {
		host = ", host " + e.Hostname
	}
	p.f("  pouwd %s, %s %s/%s%s\n", orDash(e.PouwdVersion), orDash(e.GoVersion), e.OS, e.Arch, host)
}

func (p *printer) advice(fs []Finding) {
	p.f("advice\n")
	if len(fs) == 0 {
		p.f("  nothing to advise\n")
		return
	}
	for _, f := range fs {
		p.f("  [%s] %s: %s\n", f.Severity, f.Rule, f.Message)
		if f.Suggestion != "" {
			p.f("      try: %s\n", f.Suggestion)
		}
		for _, e := range f.Evidence {
			p.f("      evidence: %s = %s", e.Name, fmtValue(e.Value, e.Unit))
			if e.Threshold != nil {
				p.f(" (%s threshold %s)", e.Op, fmtValue(*e.Threshold, e.Unit))
			}
			p.f("\n")
		}
	}
}

// fmtValue prints an evidence value in its unit.
func fmtValue(v float64, unit string) string {
	switch unit {
	case "bytes":
		if v < 0 {
			return "-" + fmtBytes(uint64(-v))
		}
		return fmtBytes(uint64(v))
	case "%":
		return fmt.Sprintf("%.1f%%", v)
	case "":
		return strings.TrimSuffix(fmt.Sprintf("%.4g", v), ".")
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}

func orDashBytes(b uint64) string {
	if b == 0 {
		return "-"
	}
	return fmtBytes(b)
}

func fmtFloat(f Float) string {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%.4f", v)
}

// fmtSeconds prints a duration in ns, µs, ms or s.
func fmtSeconds(s float64) string {
	switch {
	case s == 0:
		return "0 s"
	case s < 1e-6:
		return fmt.Sprintf("%.0f ns", s*1e9)
	case s < 1e-3:
		return fmt.Sprintf("%.1f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.2f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f s", s)
}

// siCount prints a count with k, M, G or T before unit.
func siCount(v float64, unit string) string {
	for _, u := range []struct {
		s string
		f float64
	}{{"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if math.Abs(v) >= u.f {
			return fmt.Sprintf("%.2f %s%s", v/u.f, u.s, unit)
		}
	}
	if unit == "" {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// Rate prints a throughput with three significant digits, at least one
// decimal below 10 (a 100M-parameter model trains about 1 sample/s on a
// small CPU); pouwd ml train's progress and summary print with it too.
func Rate(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
