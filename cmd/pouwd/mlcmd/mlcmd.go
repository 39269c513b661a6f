package mlcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/nvml"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/ml/devtrain"
	"github.com/pouw/pouwd/ml/mnist"
	"github.com/pouw/pouwd/monitor/report"
)

// NewCommand returns the `ml` command group.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ml",
		Short: "Train and evaluate models locally with pouwd's canonical training engine",
	}
	cmd.AddCommand(devicesCmd(), trainCmd(), evalCmd())
	cmd.AddCommand(estimateCmd())
	cmd.AddCommand(reportCmd())
	return cmd
}

func devicesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List the CPU and NVIDIA GPUs training can use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := accel.Detect(cmd.Context(), nvml.Prober{})
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(d)
			}
			c := d.CPU
			fmt.Fprintf(out, "cpu: %s (%s), %d cores, features %s\n", orUnknown(c.Model), c.Arch, c.Cores, strings.Join(c.Features, " "))
			fmt.Fprintf(out, "     memory %.1f GiB total, %.1f GiB available; kernels %v\n", gib(c.MemoryTotal), gib(c.MemoryFree), append(cpu.Kernels(), "go"))
			for _, g := range d.GPUs {
				fmt.Fprintf(out, "gpu%d: %s, memory %.1f/%.1f GiB free, utilisation %d%% (memory %d%%), driver %s\n",
					g.Index, g.Name, gib(g.MemoryFree), gib(g.MemoryTotal), g.UtilGPU, g.UtilMemory, g.Driver)
				if g.TemperatureC > 0 || g.PowerW > 0 {
					fmt.Fprintf(out, "      %d C, %.0f/%.0f W\n", g.TemperatureC, g.PowerW, g.PowerLimitW)
				}
			}
			if d.GPUError != "" {
				fmt.Fprintln(out, d.GPUError)
			}
			fmt.Fprintf(out, "selected: %s\n", d.Selected)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown model"
	}
	return s
}

func gib(b uint64) float64 { return float64(b) / (1 << 30) }

type trainFlags struct {
	dataset, dataDir, model, optimizer, kernel, ckptDir, resume     string
	reportPath                                                      string
	device, precision                                               string
	lr, momentum, wd, memFraction                                   float32
	batch, epochs, steps, threads, ckptEvery, microBatch, recompute int
	seed                                                            uint64
	asJSON, noProgress, profile                                     bool
}

// loadDataset returns the training and test samples of name: "mnist"
// (the original files, from dir or the GoMNIST module), or a directory
// prepared by `pouwd data prepare` (its train and validation splits train,
// its test split tests).
func loadDataset(name, dir string) (train, test ml.Dataset, err error) {
	if name != "mnist" {
		if _, statErr := os.Stat(filepath.Join(name, data.MetaFile)); statErr != nil {
			return train, test, fmt.Errorf("dataset %q: expected mnist or a directory prepared by `pouwd data prepare` (no %s there)", name, data.MetaFile)
		}
		d, _, err := data.Load(name)
		if err != nil {
			return train, test, err
		}
		var tr, te []int
		for i, s := range d.Split {
			if s == data.Test {
				te = append(te, i)
			} else {
				tr = append(tr, i)
			}
		}
		return jobspec.Gather(d, tr), jobspec.Gather(d, te), nil
	}
	if dir == "" {
		if dir, err = mnist.FindDir(); err != nil {
			return train, test, err
		}
	}
	return mnist.Load(dir)
}

func trainCmd() *cobra.Command {
	f := trainFlags{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a model on a dataset with canonical arithmetic",
		Example: `  pouwd ml train --dataset mnist --model mlp:784-256-10 --optimizer sgd --lr 0.1 --batch 64 --epochs 1 --seed 1
  pouwd ml train --model cnn:1x28x28-2x8-10 --lr 0.05 --momentum 0.9 --threads 2 --checkpoint-dir ./ckpt --json
  pouwd ml train --model mlp:784-256-10 --precision bf16 --micro-batch 16 --device cpu:4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd.Context(), cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataset, "dataset", "mnist", "mnist, or a directory prepared by pouwd data prepare")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory of the dataset files (default: the GoMNIST module in the Go module cache, or $POUWD_MNIST_DIR)")
	fl.StringVar(&f.model, "model", "mlp:784-256-10", "model spec: mlp:IN-H...-OUT[,act=..][,dropout=P][,norm=batch|layer], cnn:CxHxW-DEPTHxWIDTH-CLASSES[,bn][,pool=max|avg][,fc=N][,width=M] or resnet:CxHxW-resnet20|resnet18|...-CLASSES, resnet:CxHxW-basic|bottleneck-D1.D2...-WIDTH-CLASSES[,width=M][,stem=cifar|imagenet], transformer:SEQ-VOCAB-LAYERSxDIMxHEADS-CLASSES[,mlp=R][,pos=learned|sin][,causal][,head=mean|last][,dropout=P] (token ids, e.g. a text dataset) or vit:CxHxW-PATCH-LAYERSxDIMxHEADS-CLASSES[,mlp=R][,dropout=P]")
	fl.StringVar(&f.optimizer, "optimizer", "sgd", "sgd, adam or adamw")
	fl.Float32Var(&f.lr, "lr", 0.1, "learning rate")
	fl.Float32Var(&f.momentum, "momentum", 0, "SGD momentum")
	fl.Float32Var(&f.wd, "weight-decay", 0, "weight decay (decoupled for adamw)")
	fl.IntVar(&f.batch, "batch", 0, "batch size (0: 64, smaller on a dataset with fewer than 256 training samples)")
	fl.IntVar(&f.epochs, "epochs", 0, fmt.Sprintf("epochs (0: the fewest whole epochs that give %d steps: 1 on MNIST, hundreds on a small CSV)", ml.AutoMinSteps))
	fl.IntVar(&f.steps, "steps", 0, "stop after this many steps in total (0: run all epochs)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of initialisation, batch order and dropout")
	fl.IntVar(&f.threads, "threads", 1, "CPU threads (never changes the result bits)")
	fl.StringVar(&f.kernel, "kernel", "auto", "GEMM kernel: auto, avx512, avx2 or go (never changes the result bits)")
	fl.StringVar(&f.device, "device", "auto", "devices: auto (the CPU), cpu, cpu:N (N CPU devices, data parallel over micro-batches, --threads each), gpu:N or gpu:all (CUDA builds: resident on the GPUs where the model has a device path; several need --micro-batch); never changes the result bits")
	fl.StringVar(&f.precision, "precision", "fp32", "storage precision of activations and weight copies: fp32, bf16 or fp16 (fp16: dynamic loss scaling); part of the result")
	fl.IntVar(&f.microBatch, "micro-batch", 0, "split each batch into micro-batches of this size (a divisor of --batch; 0: whole batches), reduced in a fixed order; part of the result, needed by cpu:N with N > 1")
	fl.StringVar(&f.ckptDir, "checkpoint-dir", "", "write checkpoints here (final.ckpt, and step-N.ckpt with --checkpoint-every)")
	fl.IntVar(&f.ckptEvery, "checkpoint-every", 0, "also write a checkpoint every N steps")
	fl.IntVar(&f.recompute, "recompute", 0, "gradient checkpointing: keep only the activations between every N residual blocks and recompute the rest in backward (resnet, transformer, vit; never changes the result bits; 0: off)")
	fl.StringVar(&f.resume, "resume", "", "resume from this checkpoint (its model and config win over the flags)")
	fl.Float32Var(&f.memFraction, "memory-fraction", accel.DefaultBudgetFraction, "share of available host memory training may use (a run resident on GPUs is checked for what stays on the host: the dataset, the model's copy, a batch; each GPU against its own budget with pouwd ml estimate --device gpu's figure)")
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON summary as the last line")
	fl.BoolVar(&f.noProgress, "no-progress", false, "no progress bar even on a terminal")
	fl.StringVar(&f.reportPath, "report", "", "write a run report here (JSON: config, dataset hash, per-epoch metrics, step times, resource samples, profile with --profile, environment, advice); pouwd ml report FILE prints it and --plot DIR draws it")
	fl.BoolVar(&f.profile, "profile", false, "time every operation (GEMM, conv, attention, norm, elementwise, pooling, loss, optimizer, digest, data) and print a table after training: share of step time, bytes, GFLOP/s against the backend's measured GEMM peak (never changes the result bits; with --json, in the summary as \"profile\")")
	return cmd
}

func runTrain(ctx context.Context, cmd *cobra.Command, f trainFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	logf := func(format string, a ...any) {
		if !f.asJSON || isTerminal(errOut) {
			fmt.Fprintf(errOut, format, a...)
		}
	}
	devs, note, err := openDevices(f.device, cpu.Options{Threads: f.threads, Kernel: f.kernel})
	if err != nil {
		return err
	}
	if note != "" {
		logf("%s\n", note)
	}
	be := devs[0]
	precision, err := parsePrecision(f.precision)
	if err != nil {
		return err
	}
	train, test, err := loadDataset(f.dataset, f.dataDir)
	if err != nil {
		return err
	}
	var tr *ml.Trainer
	if f.resume != "" {
		ck, err := readCheckpointFile(f.resume)
		if err != nil {
			return err
		}
		if tr, err = ml.ResumeTrainer(ck, train, be); err != nil {
			return fmt.Errorf("resume from %s: %w", f.resume, err)
		}
		// How long to train is not part of the bits of any step: explicit
		// --steps / --epochs extend or shorten the resumed run.
		if cmdChanged(cmd, "steps") {
			tr.Cfg.Steps = f.steps
			if !cmdChanged(cmd, "epochs") {
				tr.Cfg.Epochs = 0
			}
		}
		if cmdChanged(cmd, "epochs") {
			tr.Cfg.Epochs = f.epochs
		}
		if err := tr.Cfg.Validate(); err != nil {
			return err
		}
		// The precision and the micro-batch size are part of the
		// computation: the checkpoint's win, and a different explicit
		// value is an error rather than silently ignored.
		if cmdChanged(cmd, "precision") && precision != tr.Cfg.Precision {
			return fmt.Errorf("--precision %s: the checkpoint was trained in %s (the precision is part of the result)", f.precision, precisionName(tr.Cfg.Precision))
		}
		if cmdChanged(cmd, "micro-batch") && f.microBatch != tr.Cfg.MicroBatch {
			return fmt.Errorf("--micro-batch %d: the checkpoint uses %d (the micro-batch size is part of the result)", f.microBatch, tr.Cfg.MicroBatch)
		}
	} else {
		cfg := ml.DefaultTrainConfig()
		cfg.Optimizer, cfg.LR, cfg.Momentum, cfg.WeightDecay = f.optimizer, f.lr, f.momentum, f.wd
		cfg.BatchSize, cfg.Epochs, cfg.Steps, cfg.Seed = f.batch, f.epochs, f.steps, f.seed
		cfg.Precision, cfg.MicroBatch = precision, f.microBatch
		if cfg.BatchSize == 0 {
			cfg.BatchSize = ml.AutoBatch(train.N)
		}
		if cfg.Steps > 0 && !cmdChanged(cmd, "epochs") {
			cfg.Epochs = 0 // --steps alone: as many epochs as the steps need
		} else if cfg.Epochs == 0 {
			cfg.Epochs = ml.AutoEpochs(train.N, cfg.BatchSize)
			logf("%d epoch(s) by default: %d or more steps on %d samples at batch %d (--epochs or --steps to choose)\n", cfg.Epochs, ml.AutoMinSteps, train.N, cfg.BatchSize)
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		m, err := ml.NewModel(f.model, f.seed)
		if err != nil {
			return err
		}
		if tr, err = ml.NewTrainer(m, train, cfg, be); err != nil {
			return err
		}
	}
	if err := tr.Model.SetRecompute(f.recompute); err != nil {
		return fmt.Errorf("--recompute: %w", err)
	}
	if len(devs) > 1 && tr.Cfg.MicroBatch == 0 {
		return fmt.Errorf("--device %s runs %d devices data parallel over micro-batches: set --micro-batch (a divisor of the batch size %d; it is part of the result, the device count is not)", f.device, len(devs), tr.Cfg.BatchSize)
	}
	if err := tr.SetDevices(devs...); err != nil {
		return err
	}
	// Memory: a run that will train resident on GPUs is checked against
	// each GPU's budget (ml's device estimate, per device) and the host's
	// budget for what stays on the host (devtrain.ResidentEstimates and
	// CheckResident, the miner's rule too); a host-path run (the
	// profiler keeps one there) against the host's budget for its whole
	// step (ml.EstimateTraining).
	budget := accel.CPUBudget(float64(f.memFraction))
	hostCheck := func() (uint64, error) {
		need, err := trainMemory(tr, len(devs))
		if err != nil {
			return 0, err
		}
		return need, budget.Check(fmt.Sprintf("model %s with batch %d", tr.Model.Spec, tr.Cfg.BatchSize), need)
	}
	var need uint64
	var resident []ml.MemoryEstimate
	if !f.profile {
		resident = devtrain.ResidentEstimates(devs, tr.Model, tr.Cfg)
	}
	if resident != nil {
		need, err = devtrain.CheckResident(devs, tr.Model, tr.Cfg, resident, budget, train, test)
	} else {
		need, err = hostCheck()
	}
	if err != nil {
		return err
	}
	actBatch := tr.Cfg.BatchSize
	if tr.Cfg.MicroBatch > 0 {
		actBatch = tr.Cfg.MicroBatch
	}
	act, err := ml.ActivationBytes(tr.Model, actBatch, tr.Cfg.Precision)
	if err != nil {
		return err
	}
	act32, _ := ml.ActivationBytes(tr.Model, actBatch, "")
	total := tr.TotalSteps()
	mbText := ""
	if tr.Cfg.MicroBatch > 0 {
		mbText = fmt.Sprintf(" (micro-batches of %d)", tr.Cfg.MicroBatch)
	}
	logf("training %s (%d parameters) on %s: %d samples, %s, batch %d%s, %s, %d steps, %s, backend %s, %d threads\n",
		tr.Model.Spec, tr.Model.NumParams(), f.dataset, train.N, tr.Cfg.Optimizer, tr.Cfg.BatchSize, mbText, precisionName(tr.Cfg.Precision),
		total-tr.StepIndex(), deviceText(len(devs)), be.Name(), be.Threads())
	logf("activations held for backward: %.2f MiB per device pass (fp32: %.2f MiB, %.2fx)\n", float64(act)/(1<<20), float64(act32)/(1<<20), float64(act32)/float64(act))
	var prof *ml.Profiler
	if f.profile {
		// The peak first, while nothing else runs: a fraction of a second.
		prof = ml.NewProfiler()
		logf("profiling: measured GEMM peak %.1f GFLOP/s on %s (512x512x512)\n", prof.MeasurePeak(be), be.Name())
		tr.SetProfiler(prof)
	}
	// On GPUs, a model with a device path trains resident there
	// (ml/devtrain): only the batch goes up and the loss comes back per
	// step; on several, a replica on each runs its share of the
	// micro-batches, reduced on the first in ml's order. Others train on
	// the host path, the GPUs running their GEMMs (the note says why).
	var release func() error
	{
		var note string
		if release, note, err = devtrain.PlaceDevices(devs, tr); err != nil {
			return err
		}
		if note != "" {
			logf("%s\n", note)
		}
	}
	defer func() {
		if release != nil {
			_ = release()
		}
	}()
	if resident != nil && release == nil {
		// Expected resident, placed on the host path after all (the note
		// says why): the host holds the whole step.
		if need, err = hostCheck(); err != nil {
			return err
		}
	}
	rr := startRunReport(ctx, f.reportPath, f, tr, len(devs), train, test.N, need)
	var bar *progressbar.ProgressBar
	if !f.noProgress && isTerminal(errOut) {
		bar = progressbar.NewOptions64(int64(total-tr.StepIndex()),
			progressbar.OptionSetWriter(errOut), progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	start := time.Now()
	first := tr.StepIndex()
	var loss float32
	for !tr.Done() {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		if loss, err = tr.Step(nil); err != nil {
			return err
		}
		rr.step(time.Since(t0), loss)
		if bar != nil {
			done := tr.StepIndex() - first
			sps := float64(done) * float64(tr.Cfg.BatchSize) / time.Since(start).Seconds()
			desc := fmt.Sprintf("loss %.4f, %s samples/s", loss, report.Rate(sps))
			if scale, skipped := tr.LossScale(); scale != 0 {
				desc += fmt.Sprintf(", loss scale %g, %d skipped", scale, skipped)
			}
			bar.Describe(desc)
			_ = bar.Add(1)
		}
		if f.ckptDir != "" && f.ckptEvery > 0 && tr.StepIndex()%uint64(f.ckptEvery) == 0 && !tr.Done() {
			if err := writeCheckpointFile(tr, filepath.Join(f.ckptDir, fmt.Sprintf("step-%d.ckpt", tr.StepIndex()))); err != nil {
				return err
			}
		}
	}
	elapsed := time.Since(start)
	if bar != nil {
		_ = bar.Finish()
	}
	if release != nil {
		// The trained state back on the host for the evaluation and the
		// fingerprint below.
		err, release = release(), nil
		if err != nil {
			return err
		}
	}
	ev, err := ml.Evaluate(tr.Model, test, be, 1000)
	if err != nil {
		return err
	}
	// The weights' SHA-256 fingerprint (ml.HashTensors, as eval prints
	// it), not the work proof's state hash.
	wh := ml.HashTensors(ml.DomainWeights, ml.WeightsTensors(tr.Model))
	summary := struct {
		Model            string  `json:"model"`
		Steps            uint64  `json:"steps"`
		Epoch            int     `json:"epoch"`
		Samples          uint64  `json:"samples"`
		Loss             float32 `json:"loss"`
		ElapsedSeconds   float64 `json:"elapsed_seconds"`
		SamplesPerSecond float64 `json:"samples_per_second"`
		TestAccuracy     float64 `json:"test_accuracy"`
		TestLoss         float64 `json:"test_loss"`
		WeightsSHA256    string  `json:"weights_sha256"`
		Backend          string  `json:"backend"`
		Threads          int     `json:"threads"`
		Devices          int     `json:"devices"`
		Precision        string  `json:"precision"`
		MicroBatch       int     `json:"micro_batch"`
		ActivationBytes  uint64  `json:"activation_bytes"`
		LossScale        float32 `json:"loss_scale,omitempty"`
		SkippedSteps     uint64  `json:"skipped_steps,omitempty"`
		Checkpoint       string  `json:"checkpoint,omitempty"`
		// Report is --report's file.
		Report string `json:"report,omitempty"`
		// Profile is --profile's report (ml.Profile).
		Profile *ml.Profile `json:"profile,omitempty"`
	}{Model: tr.Model.Spec.String(), Steps: tr.StepIndex(), Epoch: tr.Epoch(), Samples: (tr.StepIndex() - first) * uint64(tr.Cfg.BatchSize),
		Loss: loss, ElapsedSeconds: elapsed.Seconds(), TestAccuracy: ev.Accuracy, TestLoss: ev.Loss,
		WeightsSHA256: fmt.Sprintf("%x", wh[:]), Backend: be.Name(), Threads: be.Threads(),
		Devices: len(devs), Precision: precisionName(tr.Cfg.Precision), MicroBatch: tr.Cfg.MicroBatch, ActivationBytes: act}
	summary.LossScale, summary.SkippedSteps = tr.LossScale()
	if prof != nil {
		p := prof.Report()
		summary.Profile = &p
	}
	if elapsed > 0 {
		summary.SamplesPerSecond = float64(summary.Samples) / elapsed.Seconds()
	}
	if f.ckptDir != "" {
		summary.Checkpoint = filepath.Join(f.ckptDir, "final.ckpt")
		if err := writeCheckpointFile(tr, summary.Checkpoint); err != nil {
			return err
		}
	}
	advice, err := rr.finish(ev, prof)
	if err != nil {
		return err
	}
	if f.reportPath != "" {
		summary.Report = f.reportPath
		logf("report %s (%d piece(s) of advice): pouwd ml report %s [--plot DIR]\n", f.reportPath, advice, f.reportPath)
	}
	if f.asJSON {
		return json.NewEncoder(out).Encode(summary)
	}
	fmt.Fprintf(out, "steps %d, loss %.4f, %s samples/s, test accuracy %.2f%%, weights sha256 %s\n",
		summary.Steps, summary.Loss, report.Rate(summary.SamplesPerSecond), 100*summary.TestAccuracy, summary.WeightsSHA256)
	if summary.LossScale != 0 {
		fmt.Fprintf(out, "fp16 loss scale %g, %d steps skipped\n", summary.LossScale, summary.SkippedSteps)
	}
	if summary.Checkpoint != "" {
		fmt.Fprintf(out, "checkpoint %s\n", summary.Checkpoint)
	}
	if summary.Profile != nil {
		return summary.Profile.WriteTable(out)
	}
	return nil
}

func cmdChanged(cmd *cobra.Command, name string) bool { return cmd.Flags().Changed(name) }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeCheckpointFile writes atomically: a temporary file in the same
// directory, synced, then renamed, so a crash never leaves half a file.
func writeCheckpointFile(tr *ml.Trainer, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ckpt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tr.SaveCheckpoint(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func readCheckpointFile(path string) (*ml.Checkpoint, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	ck, err := ml.ReadCheckpoint(fh, 0)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return ck, nil
}

func evalCmd() *cobra.Command {
	var (
		path, dataset, dataDir string
		threads, batch         int
		asJSON                 bool
	)
	cmd := &cobra.Command{
		Use:   "eval --checkpoint FILE",
		Short: "Evaluate a saved checkpoint on the dataset's test split",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return errors.New("--checkpoint is required")
			}
			ck, err := readCheckpointFile(path)
			if err != nil {
				return err
			}
			m, err := ck.Model()
			if err != nil {
				return fmt.Errorf("checkpoint %s: %w", path, err)
			}
			be, err := cpu.New(cpu.Options{Threads: threads})
			if err != nil {
				return err
			}
			_, test, err := loadDataset(dataset, dataDir)
			if err != nil {
				return err
			}
			start := time.Now()
			ev, err := ml.Evaluate(m, test, be, batch)
			if err != nil {
				return err
			}
			res := struct {
				Model         string  `json:"model"`
				Step          uint64  `json:"step"`
				TestAccuracy  float64 `json:"test_accuracy"`
				TestLoss      float64 `json:"test_loss"`
				Correct       int     `json:"correct"`
				N             int     `json:"n"`
				Seconds       float64 `json:"seconds"`
				WeightsSHA256 string  `json:"weights_sha256"`
			}{ck.Header.Spec, ck.Header.Step, ev.Accuracy, ev.Loss, ev.Correct, ev.N, time.Since(start).Seconds(), weightsSHA256(ck)}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s at step %d: test accuracy %.2f%% (%d/%d), loss %.4f, weights sha256 %s\n",
				res.Model, res.Step, 100*res.TestAccuracy, res.Correct, res.N, res.TestLoss, res.WeightsSHA256)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&path, "checkpoint", "", "checkpoint file written by `pouwd ml train --checkpoint-dir`")
	fl.StringVar(&dataset, "dataset", "mnist", "mnist, or a directory prepared by pouwd data prepare")
	fl.StringVar(&dataDir, "data-dir", "", "directory of the dataset files")
	fl.IntVar(&threads, "threads", 1, "CPU threads")
	fl.IntVar(&batch, "batch", 1000, "inference batch size")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// weightsSHA256 is the SHA-256 fingerprint of a checkpoint's weights
// (ml.HashTensors), what `ml train` prints for the same weights.
func weightsSHA256(ck *ml.Checkpoint) string {
	h := ml.HashTensors(ml.DomainWeights, ck.Weights)
	return fmt.Sprintf("%x", h[:])
}
