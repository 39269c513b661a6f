package datacmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/cv"
	"github.com/pouw/pouwd/ml/cv/engine"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/monitor/report"
)

type cvFlags struct {
	dataset, models, metric, plot, optimizer string
	grid                                     []string
	folds, epochs, batch, threads, workers   int
	limit, holdoutLimit                      int
	memoryBudget                             int64
	spillDir                                 string
	stratified, noShuffle, jsonOut, quiet    bool
	profile                                  bool
	reportDir                                string
	seed                                     uint32
	lr                                       float64
	modelSeed                                uint64
}

// NewCVCommand returns the `cv` command (mounted as `pouwd ml cv`).
func NewCVCommand() *cobra.Command {
	var f cvFlags
	cmd := &cobra.Command{
		Use:   "cv --dataset DIR --models SPEC[,SPEC...] [--grid name=v1,v2 ...] --folds K",
		Short: "Cross-validate model architectures and hyperparameter grids on a prepared dataset",
		Long: `Runs K-fold (or stratified K-fold) cross-validation of every configuration
(each model spec x the cartesian product of the --grid axes) on the training
and validation samples of a prepared dataset, with the fold rule shared with
the chain (scikit-learn's KFold/StratifiedKFold for the same seed). Prints a
progress bar per job, then a table ranked by mean metric, std, parameters.
The test split, when present, scores soft and hard voting ensembles of each
configuration's fold models.

Models: engine specs (mlp:784-128-10, cnn:1x28x28-2x16-10,bn) or centroid.
Grid axes: lr, momentum, weight_decay (float), batch, epochs, steps, seed
(int), optimizer (sgd|adam|adamw), shrink (centroid).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return runCV(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataset, "dataset", "", "prepared dataset directory (pouwd data prepare --out)")
	fl.StringVar(&f.models, "models", "", "comma-separated model specs (mlp:, cnn:, resnet:, transformer:, vit: with their options, or centroid)")
	fl.StringArrayVar(&f.grid, "grid", nil, "hyperparameter axis name=v1,v2,... (repeatable)")
	fl.IntVar(&f.folds, "folds", 5, "number of folds K")
	fl.BoolVar(&f.stratified, "stratified", false, "StratifiedKFold instead of KFold")
	fl.Uint32Var(&f.seed, "seed", 0, "fold shuffle seed (numpy RandomState seed)")
	fl.BoolVar(&f.noShuffle, "no-shuffle", false, "folds in index order (sklearn shuffle=False)")
	fl.StringVar(&f.metric, "metric", "accuracy", "ranking metric: accuracy, f1_macro, precision_macro, recall_macro")
	fl.StringVar(&f.optimizer, "optimizer", "sgd", "default optimizer (sgd, adam, adamw)")
	fl.Float64Var(&f.lr, "lr", 0.1, "default learning rate")
	fl.IntVar(&f.epochs, "epochs", 0, fmt.Sprintf("default epochs (0: enough whole epochs for %d steps on a training fold at the default --batch: 1 on MNIST, hundreds on a small CSV)", ml.AutoMinSteps))
	fl.IntVar(&f.batch, "batch", 0, "default batch size (0: 64, smaller on a dataset with fewer than 256 training samples per fold)")
	fl.Uint64Var(&f.modelSeed, "model-seed", 1, "default training seed (initial weights, batch order)")
	fl.IntVar(&f.threads, "threads", 0, "CPU backend threads (0: all cores)")
	fl.IntVar(&f.workers, "workers", 1, "jobs run at once")
	fl.IntVar(&f.limit, "limit", 0, "use only the first N training samples (0: all)")
	fl.IntVar(&f.holdoutLimit, "holdout-limit", 0, "use only the first N test samples for the ensembles (0: all)")
	fl.Int64Var(&f.memoryBudget, "memory-budget", 0, "bytes; a larger dataset file is read lazily from disk and a larger training fold is memory-mapped from a temporary file (0: everything in memory)")
	fl.StringVar(&f.spillDir, "spill-dir", "", "where training folds over --memory-budget are written (default: the system temp dir)")
	fl.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bars")
	fl.StringVar(&f.plot, "plot", "", "write a PNG: mean and std per configuration, best configuration's confusion matrix")
	fl.StringVar(&f.reportDir, "report-dir", "", "write a run report per engine job here (job-NNN.json: config, dataset hash, per-epoch loss, step times, resource samples, environment, advice); pouwd ml report FILE prints one")
	fl.BoolVar(&f.profile, "profile", false, "time the engine jobs' training operations and print the profile table (share of step time, GFLOP/s against the measured GEMM peak) after the report; with --json, as \"profile\"")
	_ = cmd.MarkFlagRequired("dataset")
	_ = cmd.MarkFlagRequired("models")
	return cmd
}

// splitModels splits "mlp:784-128-10,cnn:1x28x28-2x16-10,bn,centroid" at
// the commas that start a new spec (a known kind), so spec options that
// contain commas survive.
func splitModels(s string) []string {
	var out []string
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		kind, _, _ := strings.Cut(tok, ":")
		newSpec := tok == "centroid" || ((kind == "mlp" || kind == "cnn" || kind == "resnet" || kind == "transformer" || kind == "vit") && strings.Contains(tok, ":"))
		if newSpec || len(out) == 0 {
			out = append(out, tok)
		} else {
			out[len(out)-1] += "," + tok
		}
	}
	return out
}

func runCV(ctx context.Context, stdout, stderr io.Writer, f cvFlags) (err error) {
	metric, err := cv.ParseMetric(f.metric)
	if err != nil {
		return err
	}
	var (
		src    data.Samples
		m      *data.Meta
		shape  []int
		dtype  data.DType
		splits []uint8
	)
	if f.memoryBudget > 0 {
		src, m, err = data.Open(f.dataset, f.memoryBudget)
	} else {
		src, m, err = data.Load(f.dataset)
	}
	if err != nil {
		return err
	}
	switch s := src.(type) {
	case *data.Dataset:
		shape, dtype, splits = s.Shape, s.DType, s.Split
	case *data.Lazy:
		defer s.Close()
		shape, dtype, splits = s.Header().Shape, s.Header().DType, s.Split
		fmt.Fprintf(stderr, "cv: %s is %d bytes, over the %d-byte budget: reading it lazily\n", f.dataset, m.Bytes, f.memoryBudget)
	}
	threads := f.threads
	if threads <= 0 {
		threads = cpu.MaxThreads()
	}
	be, err := cpu.New(cpu.Options{Threads: threads, Kernel: "auto"})
	if err != nil {
		return err
	}
	idx := data.CVPool(splits)
	if f.limit > 0 && len(idx) > f.limit {
		idx = idx[:f.limit]
	}
	perFold := len(idx)
	if f.folds > 1 {
		perFold = len(idx) * (f.folds - 1) / f.folds
	}
	batch, epochs := f.batch, f.epochs
	if batch == 0 {
		batch = ml.AutoBatch(perFold)
	}
	if epochs == 0 {
		epochs = ml.AutoEpochs(perFold, batch)
	}
	var chosen []string
	if f.batch == 0 {
		chosen = append(chosen, fmt.Sprintf("batch %d", batch))
	}
	if f.epochs == 0 {
		chosen = append(chosen, fmt.Sprintf("%d epoch(s), %d or more steps", epochs, ml.AutoMinSteps))
	}
	if len(chosen) > 0 {
		fmt.Fprintf(stderr, "cv: default %s on a training fold of %d samples (--batch, --epochs to choose)\n", strings.Join(chosen, ", "), perFold)
	}
	base := ml.DefaultTrainConfig()
	base.Optimizer, base.LR, base.Epochs, base.BatchSize, base.Seed = f.optimizer, float32(f.lr), epochs, batch, f.modelSeed
	if err := base.Validate(); err != nil {
		return fmt.Errorf("training defaults: %w", err)
	}
	tr := engine.NewSamples(src, shape, m.Classes, dtype, be, base)
	tr.MemoryBudget, tr.SpillDir = f.memoryBudget, f.spillDir
	if f.profile {
		tr.Profiler = ml.NewProfiler()
		fmt.Fprintf(stderr, "cv: profiling: measured GEMM peak %.1f GFLOP/s on %s (512x512x512)\n", tr.Profiler.MeasurePeak(be), be.Name())
	}
	if f.reportDir != "" {
		ds := report.Dataset{Name: f.dataset, Hash: m.SHA256, HashOf: report.HashCanonical, Shape: shape, Classes: m.Classes}
		reps, err := newCVReports(ctx, f.reportDir, ds, stderr)
		if err != nil {
			return err
		}
		tr.Observe = reps.observe
		defer func() {
			if cerr := reps.close(); err == nil {
				err = cerr
			}
		}()
	}
	grid, err := cv.ParseGrid(f.grid, tr.Schema())
	if err != nil {
		return err
	}
	configs, err := cv.Expand(splitModels(f.models), grid)
	if err != nil {
		return err
	}
	var labels, hold, holdLabels []int
	for _, i := range idx {
		labels = append(labels, src.Label(i))
	}
	for i, s := range splits {
		if s == data.Test && (f.holdoutLimit == 0 || len(hold) < f.holdoutLimit) {
			hold, holdLabels = append(hold, i), append(holdLabels, src.Label(i))
		}
	}
	spec := cv.FoldSpec{K: f.folds, Stratified: f.stratified, Shuffle: !f.noShuffle, Seed: f.seed}
	jobs := len(configs) * f.folds
	fmt.Fprintf(stderr, "cv: %s (%s), %d samples in %d %sfolds, %d held out; %d configurations, %d jobs; backend %s, %d threads\n",
		m.Name, short(m.SHA256), len(idx), f.folds, map[bool]string{true: "stratified ", false: ""}[f.stratified], len(hold), len(configs), jobs, be.Name(), threads)
	var bar *progressbar.ProgressBar
	progress := func(e cv.Event) {
		if f.quiet {
			if e.Finished {
				fmt.Fprintf(stderr, "[%d/%d] %s fold %d: %s %.4f\n", e.Job+1, e.Jobs, configs[e.Config], e.Fold, metric, val(e.Result.Metrics, metric))
			}
			return
		}
		if e.Finished {
			if bar != nil {
				_ = bar.Finish()
				bar = nil
			}
			fmt.Fprintf(stderr, "\r\033[K[%d/%d] %s fold %d: %s %.4f (%s)\n", e.Job+1, e.Jobs, configs[e.Config], e.Fold, metric, val(e.Result.Metrics, metric), e.Result.TrainTime.Round(time.Millisecond))
			return
		}
		if bar == nil {
			bar = progressbar.NewOptions(e.Total,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription(fmt.Sprintf("[%d/%d] %s fold %d", e.Job+1, e.Jobs, configs[e.Config], e.Fold)),
				progressbar.OptionSetWidth(30),
				progressbar.OptionShowCount(),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		_ = bar.Set(e.Done)
	}
	rep, err := cv.Run(ctx, tr, m.Classes, labels, idx, configs, cv.Options{
		Folds: spec, Metric: metric, Workers: f.workers, Holdout: hold, HoldoutLabels: holdLabels, Progress: progress,
	})
	if err != nil {
		return err
	}
	if f.plot != "" {
		if err := writePlot(f.plot, rep, m.ClassNames); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "cv: plot written to %s\n", f.plot)
	}
	if f.jsonOut {
		if tr.Profiler != nil {
			// The report's fields, and the profile beside them.
			p := tr.Profiler.Report()
			return writeJSON(stdout, struct {
				*cv.Report
				Profile *ml.Profile `json:"profile"`
			}{rep, &p})
		}
		return writeJSON(stdout, rep)
	}
	printReport(stdout, rep)
	if hint := convergenceHint(rep, labels); hint != "" {
		fmt.Fprintln(stderr, hint)
	}
	if tr.Profiler != nil {
		fmt.Fprintln(stdout)
		return tr.Profiler.Report().WriteTable(stdout)
	}
	return nil
}

// convergenceHint says so when even the best configuration scores no
// better than always answering the most common class: training has not
// converged (too few steps, too small a learning rate), which defaults
// should not leave a first user guessing about.
func convergenceHint(rep *cv.Report, labels []int) string {
	if len(labels) == 0 || len(rep.Configs) == 0 {
		return ""
	}
	counts := map[int]int{}
	most := 0
	for _, l := range labels {
		counts[l]++
		most = max(most, counts[l])
	}
	baseline := float64(most) / float64(len(labels))
	b := rep.Configs[rep.Best]
	// "barely above": within a tenth of the way from the baseline to 1
	if rep.Metric != cv.Accuracy || b.Mean > baseline+0.1*(1-baseline) {
		return ""
	}
	return fmt.Sprintf("hint: the best configuration's accuracy %s is not clearly above always answering the most common class (%s): training has not converged; try more --epochs (or --steps), a larger --lr, or --optimizer adam", percent(b.Mean), percent(baseline))
}

func val(m cv.Metrics, name cv.Metric) float64 {
	v, _ := m.Value(name)
	return v
}

func printReport(w io.Writer, rep *cv.Report) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	hdr := []string{"rank", "configuration"}
	for f := 0; f < rep.Folds.K; f++ {
		hdr = append(hdr, fmt.Sprintf("fold%d", f))
	}
	hdr = append(hdr, "mean", "std", "params", "FLOPs/sample", "time/fold", "per Mparam", "per s", "soft", "hard")
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	for _, c := range rep.Ranked() {
		row := []string{fmt.Sprint(c.Rank), c.Name}
		for _, fr := range c.Folds {
			row = append(row, percent(val(fr.Metrics, rep.Metric)))
		}
		soft, hard := "-", "-"
		if c.Soft != nil {
			soft, hard = percent(val(*c.Soft, rep.Metric)), percent(val(*c.Hard, rep.Metric))
		}
		row = append(row, percent(c.Mean), fmt.Sprintf("± %.2f", 100*c.Std), fmt.Sprint(c.Params), siCount(c.FLOPs),
			c.TrainTime.Round(time.Millisecond).String(), fmt.Sprintf("%.3f", c.PerMParam), fmt.Sprintf("%.3f", c.PerSecond), soft, hard)
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	b := rep.Configs[rep.Best]
	fmt.Fprintf(w, "best: %s  %s %s ± %.2f (std over folds); folds %s; total %s (--json for exact ppm)\n",
		b.Name, rep.Metric, percent(b.Mean), 100*b.Std, foldDesc(rep.Folds), rep.Elapsed.Round(time.Millisecond))
}

// siCount renders a count with an SI prefix ("1.23M"), "-" for 0 (unknown).
func siCount(n int64) string {
	switch {
	case n <= 0:
		return "-"
	case n >= 1e9:
		return fmt.Sprintf("%.2fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// percent renders a metric in [0, 1] as people read it: "91.12%".
func percent(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

func foldDesc(s cv.FoldSpec) string {
	k := "KFold"
	if s.Stratified {
		k = "StratifiedKFold"
	}
	if !s.Shuffle {
		return fmt.Sprintf("%s(k=%d)", k, s.K)
	}
	return fmt.Sprintf("%s(k=%d, shuffle, seed=%d)", k, s.K, s.Seed)
}
