// Command recomputebench measures what activation recomputation
// (ml.Model.SetRecompute) saves and costs: for each model, one warm-up
// training step, then one measured step with the live heap sampled every
// 100 µs under a tight garbage-collection target, without and with
// recomputation. "Activation peak" is the peak heap minus the training
// state (weights, gradients and optimizer slots, 4 bytes each), that is
// activations, workspaces and what the collector has not reclaimed yet
// (at most GOGC=5 percent of the live heap). Step times are measured
// again at -time-gogc (default 100). It prints one table; run it through
// scripts/bench/recompute_memory.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/memprobe"
)

func main() {
	models := flag.String("models", "transformer:128-256-24x256x8-256,causal,head=last;resnet:3x32x32-resnet56-10", "models, separated by ';'")
	batches := flag.String("batches", "4;32", "batch size of each model, separated by ';'")
	every := flag.Int("every", 1, "recompute segment length in residual blocks")
	threads := flag.Int("threads", 2, "CPU threads")
	gogc := flag.Int("time-gogc", 100, "GOGC of the step-time measurement (the memory one runs at 5)")
	flag.Parse()
	specs, bs := strings.Split(*models, ";"), strings.Split(*batches, ";")
	if len(specs) != len(bs) {
		fail(fmt.Errorf("%d models and %d batch sizes", len(specs), len(bs)))
	}
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(w, "model\tbatch\tparams\tactivation peak, stored\tactivation peak, recomputed every %d\tsaved\tstep time stored (GOGC=%d)\tstep time recomputed\tsame weights\n", *every, *gogc)
	for i, spec := range specs {
		var batch int
		if _, err := fmt.Sscan(bs[i], &batch); err != nil {
			fail(fmt.Errorf("batch %q: %v", bs[i], err))
		}
		debug.SetGCPercent(5)
		a, _, ha, n := measure(spec, batch, 0, *threads)
		b, _, hb, _ := measure(spec, batch, *every, *threads)
		// Step times at an ordinary GOGC: under GOGC=5 the recomputed
		// layers' fresh buffers cost collections a real run does not make.
		debug.SetGCPercent(*gogc)
		_, ta, _, _ := measure(spec, batch, 0, *threads)
		_, tb, _, _ := measure(spec, batch, *every, *threads)
		fmt.Fprintf(w, "%s\t%d\t%.1fM\t%s\t%s\t%.0f%%\t%.2fs\t%.2fs (%+.0f%%)\t%v\n", spec, batch, float64(n)/1e6,
			mib(a), mib(b), 100*(1-float64(b)/float64(a)), ta.Seconds(), tb.Seconds(), 100*(tb.Seconds()/ta.Seconds()-1), ha == hb)
	}
	w.Flush()
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// measure trains two steps of spec on synthetic data and returns the
// activation peak of the second, its duration, the weights hash and the
// parameter count.
func measure(spec string, batch, every, threads int) (int64, time.Duration, string, int) {
	m, err := ml.NewModel(spec, 1)
	if err != nil {
		fail(err)
	}
	if err := m.SetRecompute(every); err != nil {
		fail(err)
	}
	data := ml.SyntheticDataset(m, 2*batch, 1)
	cfg := ml.DefaultTrainConfig()
	cfg.Optimizer, cfg.LR, cfg.BatchSize, cfg.Seed, cfg.Steps = "adamw", 1e-3, batch, 1, 2
	tr, err := ml.NewTrainer(m, data, cfg, cpu.MustNew(cpu.Options{Threads: threads}))
	if err != nil {
		fail(err)
	}
	if _, err := tr.Step(nil); err != nil {
		fail(err)
	}
	var state int64
	for _, p := range m.Params() {
		state += int64(p.T.Numel()) * 4
		if !p.Buffer {
			state += int64(p.T.Numel()) * 4 * 3 // gradient, two AdamW slots
		}
	}
	runtime.GC()
	var took time.Duration
	peak, err := memprobe.Peak(100*time.Microsecond, func() error {
		start := time.Now()
		_, err := tr.Step(nil)
		took = time.Since(start)
		return err
	})
	if err != nil {
		fail(err)
	}
	res, err := tr.Run(context.Background(), nil)
	if err != nil {
		fail(err)
	}
	return peak - state, took, res.WeightsSHA256, m.NumParams()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "recomputebench:", err)
	os.Exit(1)
}
