package mlcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
)

// estimateResult is `pouwd ml estimate --json`: the step's options, then
// ml.MemoryEstimate's fields (bytes):
//
//	device: cpu (the host's heap, ml.Estimate) or gpu (a resident run's
//	device memory, ml.EstimateDevice);
//	model, batch, optimizer, momentum, precision, recompute, micro_batch,
//	devices, threads, gc_percent: the step estimated;
//	params: trainable parameter values;
//	weight_bytes: parameters, buffers, fixed tables, half-precision weight
//	copies, micro-batch replicas' buffers;
//	gradient_bytes: parameter gradients (and micro-batch gradient buffers);
//	optimizer_bytes: optimizer slots;
//	activation_bytes: input batch, layer outputs and what backward reads;
//	activation_grad_bytes: gradients of layer outputs;
//	workspace_bytes: layer and GEMM scratch, short-lived buffers (gpu:
//	convolution outputs in their GEMM layout, the shared gradient scratch,
//	the reduction trees' scratch, the digest gather's arguments);
//	garbage_bytes: the collector's headroom at gc_percent (0 by default);
//	peak_bytes: the predicted peak, the sum of the seven byte fields
//	(peak_bytes - garbage_bytes is the live peak); with --device gpu and
//	several --devices, device 0's (the largest: it also holds the
//	optimizer's slots, the micro-batch reduction's gradient sums and the
//	digest gather's arguments);
//	other_devices: with --device gpu and several --devices, the same
//	fields for each of the other devices (every one the same).
type estimateResult struct {
	Device     string  `json:"device"`
	Model      string  `json:"model"`
	Batch      int     `json:"batch"`
	Optimizer  string  `json:"optimizer"`
	Momentum   float32 `json:"momentum"`
	Precision  string  `json:"precision"`
	Recompute  int     `json:"recompute"`
	MicroBatch int     `json:"micro_batch"`
	Devices    int     `json:"devices"`
	Threads    int     `json:"threads"`
	GCPercent  int     `json:"gc_percent"`
	ml.MemoryEstimate
	Others *ml.MemoryEstimate `json:"other_devices,omitempty"`
}

func estimateCmd() *cobra.Command {
	var (
		model, optimizer, precision, device                       string
		momentum                                                  float32
		batch, recompute, microBatch, devices, threads, gcPercent int
		asJSON                                                    bool
	)
	cmd := &cobra.Command{
		Use:   "estimate --model SPEC --batch B [--device cpu|gpu]",
		Short: "Predict the peak memory of one training step (weights, gradients, optimizer state, activations, workspaces), on the host or resident on a GPU",
		Long: `Predict the peak host memory of one training step of a model spec
(ml.Estimate): the model's weights and buffers, their gradients, the
optimizer's slots, the activations and activation gradients held for
backward, and layer and GEMM workspaces, at the moment of the peak. It
builds the model's weights once (4 bytes per parameter) and trains nothing.
The prediction is the live heap of the CPU engine; garbage the Go
collector has not reclaimed yet comes on top, up to GOGC percent of it
(--gc-percent adds that headroom; GOMEMLIMIT bounds it).

With --device gpu it predicts instead the device memory of a run
resident on a GPU (ml.EstimateDevice; pouwd ml train --device gpu:N):
the same parts as the GPU's allocator counts them, every buffer held from
the run's start, the backend's reduction scratch included. That is what
the run checks against the GPU's budget (0.8 of the memory free when the
device opens) before it allocates anything, refusing an over-budget run
with the bytes it needs and the budget. A resident run trains in fp32 and
keeps every activation (no --precision bf16/fp16, --recompute or
--gc-percent). With --micro-batch M each pass's buffers are at the
micro-batch size and the GPU keeps the reduction's gradient sums; with
--devices N (pouwd ml train --device gpu:all, which needs --micro-batch)
every GPU holds a replica and the estimate is per device: device 0, which
also holds the optimizer's slots and the reduction, and each other one.`,
		Example: `  pouwd ml estimate --model resnet:3x32x32-resnet20-10 --batch 128 --optimizer sgd --momentum 0.9
  pouwd ml estimate --model transformer:128-256-12x256x8-256,causal,head=last --batch 16 --optimizer adamw --recompute 2 --json
  pouwd ml estimate --model resnet:3x224x224-resnet50-1000 --batch 64 --optimizer sgd --momentum 0.9 --device gpu
  pouwd ml estimate --model resnet:3x224x224-resnet50-1000 --batch 256 --micro-batch 32 --devices 4 --optimizer sgd --momentum 0.9 --device gpu`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" {
				return errors.New("--model is required")
			}
			if batch < 1 {
				return fmt.Errorf("--batch %d: expected a batch size >= 1", batch)
			}
			prec, err := parsePrecision(precision)
			if err != nil {
				return err
			}
			onGPU, err := estimateDevice(device)
			if err != nil {
				return err
			}
			o := ml.EstimateOptions{Batch: batch, Optimizer: optimizer, Momentum: momentum, Precision: prec,
				Recompute: recompute, MicroBatch: microBatch, Devices: devices, Threads: threads, GCPercent: gcPercent}
			var e ml.MemoryEstimate
			var others *ml.MemoryEstimate
			if onGPU {
				switch {
				case recompute > 0:
					return errors.New("--recompute: a run resident on a GPU keeps every activation (recomputation is a host-path saving)")
				case gcPercent > 0:
					return errors.New("--gc-percent: a GPU's memory has no garbage collector")
				case devices > 1 && microBatch == 0:
					return fmt.Errorf("--devices %d: a resident run on several GPUs needs --micro-batch (a replica per GPU runs micro-batches)", devices)
				}
				es, err := ml.EstimateDevices(model, o)
				if err != nil {
					return err
				}
				e = es[0]
				if len(es) > 1 {
					others = &es[1]
				}
			} else if e, err = ml.Estimate(model, o); err != nil {
				return err
			}
			res := estimateResult{Device: "cpu", Model: model, Batch: batch, Optimizer: optimizer, Momentum: momentum,
				Precision: precisionName(prec), Recompute: recompute, MicroBatch: microBatch,
				Devices: max(devices, 1), Threads: max(threads, 1), GCPercent: gcPercent, MemoryEstimate: e, Others: others}
			if onGPU {
				res.Device = "gpu"
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(res)
			}
			step := fmt.Sprintf("batch %d, %s", batch, optimizer)
			if momentum != 0 {
				step += fmt.Sprintf(" (momentum %g)", momentum)
			}
			step += ", " + res.Precision
			if microBatch > 0 {
				step += fmt.Sprintf(", micro-batches of %d on %d device(s)", microBatch, res.Devices)
			}
			if recompute > 0 {
				step += fmt.Sprintf(", recompute every %d blocks", recompute)
			}
			switch {
			case onGPU && res.Devices > 1:
				step += fmt.Sprintf(", resident on %d GPUs", res.Devices)
			case onGPU:
				step += ", resident on a GPU"
			default:
				step += fmt.Sprintf(", %d thread(s)", res.Threads)
			}
			fmt.Fprintf(out, "%s: %s, %d parameters\n", model, step, e.Params)
			parts := func(e ml.MemoryEstimate) {
				for _, r := range []struct {
					name string
					b    uint64
				}{
					{"weights", e.WeightBytes}, {"gradients", e.GradientBytes}, {"optimizer", e.OptimizerBytes},
					{"activations", e.ActivationBytes}, {"activation gradients", e.ActivationGradBytes},
					{"workspaces", e.WorkspaceBytes}, {fmt.Sprintf("garbage (GOGC=%d)", gcPercent), e.GarbageBytes}, {"peak", e.PeakBytes},
				} {
					if gcPercent == 0 && strings.HasPrefix(r.name, "garbage") {
						continue
					}
					fmt.Fprintf(out, "  %-22s %12s %15d bytes\n", r.name, humanBytes(r.b), r.b)
				}
				if onGPU {
					// The budget is this fraction of the memory free when
					// the device opens (after the CUDA context's own).
					free := uint64(math.Ceil(float64(e.PeakBytes) / accel.DefaultBudgetFraction))
					fmt.Fprintf(out, "  %-22s %12s %15d bytes (the budget is %g of it)\n", "free GPU memory needed", humanBytes(free), free, accel.DefaultBudgetFraction)
				}
			}
			if others != nil {
				fmt.Fprintln(out, "GPU 0 (the optimizer's slots, the gradient reduction):")
			}
			parts(e)
			if others != nil {
				fmt.Fprintf(out, "each of GPUs 1..%d (a replica: no optimizer slots):\n", res.Devices-1)
				parts(*others)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&model, "model", "", "model spec (see pouwd ml train --help)")
	fl.StringVar(&device, "device", "cpu", "cpu: the host memory of a step (any --device of pouwd ml train but gpu); gpu or gpu:N: the device memory of a run resident on a GPU")
	fl.IntVar(&batch, "batch", 0, "batch size")
	fl.StringVar(&optimizer, "optimizer", "sgd", "sgd, adam or adamw")
	fl.Float32Var(&momentum, "momentum", 0, "SGD momentum (nonzero keeps a velocity per parameter)")
	fl.StringVar(&precision, "precision", "fp32", "fp32, bf16 or fp16")
	fl.IntVar(&recompute, "recompute", 0, "recompute activations every N residual blocks (0: off)")
	fl.IntVar(&microBatch, "micro-batch", 0, "micro-batch size (a divisor of --batch; 0: whole batches)")
	fl.IntVar(&devices, "devices", 1, "devices running micro-batches, one model replica each (with --device gpu: GPUs, each estimated)")
	fl.IntVar(&threads, "threads", 1, "CPU threads per device")
	fl.IntVar(&gcPercent, "gc-percent", 0, "add the garbage a collector at this GOGC lets the heap carry (that percent of the live peak; Go's default is 100); 0: the live peak")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// estimateDevice parses estimate's --device: true for a GPU.
func estimateDevice(d string) (bool, error) {
	kind, arg, hasArg := strings.Cut(d, ":")
	switch {
	case d == "cpu" || d == "auto" || d == "" || kind == "cpu" && hasArg:
		return false, nil
	case kind == "gpu" && (!hasArg || isIndex(arg)):
		return true, nil
	}
	return false, fmt.Errorf("--device %q: expected cpu (the host) or gpu (a run resident on a GPU)", d)
}

// humanBytes prints b in KiB, MiB or GiB.
func humanBytes(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
