package mlcmd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
)

// errNoCUDA is the answer to gpu devices in a build without the cuda tag.
var errNoCUDA = errors.New("this pouwd is built without CUDA (build with -tags cuda)")

// maxCPUDevices bounds cpu:N.
const maxCPUDevices = 256

// openDevices parses --device and returns the backends (at least one) and
// a note to log (auto's choice).
//
//	auto      the CPU, one device (logged)
//	cpu       one CPU device with the options' threads
//	cpu:N     N CPU devices, each with the options' threads
//	gpu:N     GPU N (CUDA builds)
//	gpu:all   every GPU (CUDA builds)
func openDevices(spec string, o cpu.Options) ([]accel.Backend, string, error) {
	kind, arg, hasArg := strings.Cut(spec, ":")
	switch {
	case spec == "auto" || spec == "":
		b, err := cpu.New(o)
		if err != nil {
			return nil, "", err
		}
		why := "this pouwd is built without CUDA"
		if cudaBuilt {
			why = "pouwd ml train runs GPUs only when asked for (--device gpu:N)"
		}
		return []accel.Backend{b}, fmt.Sprintf("device auto: training on the CPU (%s, %d threads; %s)", b.Name(), b.Threads(), why), nil
	case kind == "cpu":
		n := 1
		if hasArg {
			v, err := strconv.Atoi(arg)
			if err != nil || v < 1 || v > maxCPUDevices {
				return nil, "", fmt.Errorf("--device %s: expected cpu:N with N in 1..%d", spec, maxCPUDevices)
			}
			n = v
		}
		var bs []accel.Backend
		for i := 0; i < n; i++ {
			b, err := cpu.New(o)
			if err != nil {
				return nil, "", err
			}
			bs = append(bs, b)
		}
		return bs, "", nil
	case kind == "gpu":
		if !hasArg || (arg != "all" && !isIndex(arg)) {
			return nil, "", fmt.Errorf("--device %s: expected gpu:N or gpu:all", spec)
		}
		return openGPUs(arg, o)
	}
	return nil, "", fmt.Errorf("--device %q: expected auto, cpu, cpu:N, gpu:N or gpu:all", spec)
}

func isIndex(s string) bool {
	v, err := strconv.Atoi(s)
	return err == nil && v >= 0 && v < 1024
}

// parsePrecision maps --precision to TrainConfig.Precision ("" for fp32).
func parsePrecision(p string) (string, error) {
	switch p {
	case "fp32", "":
		return "", nil
	case ml.PrecisionBF16, ml.PrecisionFP16:
		return p, nil
	}
	return "", fmt.Errorf("--precision %q: expected fp32, bf16 or fp16", p)
}

func precisionName(p string) string {
	if p == "" {
		return ml.PrecisionFP32
	}
	return p
}

func deviceText(n int) string {
	if n == 1 {
		return "1 device"
	}
	return fmt.Sprintf("%d devices data parallel", n)
}

// trainMemory estimates the host memory of a training step
// (ml.EstimateTraining: the model, its gradients and optimizer state,
// activations and workspaces with the recompute setting, and per device a
// replica's pass over a micro-batch).
func trainMemory(tr *ml.Trainer, devices int) (uint64, error) {
	threads := 1
	if tr.Backend != nil {
		threads = tr.Backend.Threads()
	}
	e, err := ml.EstimateTraining(tr.Model, tr.Cfg, devices, threads)
	return e.PeakBytes, err
}

// gpuBudget is a device with a memory budget of its own: a GPU (accel/cuda's
// Backend, the emulator's included).
type gpuBudget interface{ Budget() accel.Budget }

// residentEstimates returns each device's estimate (ml.EstimateResidentDevices,
// device 0 first) when the run will train resident on devs: every device a
// GPU and a setting a resident run trains (fp32, no profiler, layers and an
// optimizer with device rules). Otherwise nil: the run stays on the host
// path.
func residentEstimates(devs []accel.Backend, tr *ml.Trainer, profile bool) []ml.MemoryEstimate {
	if profile || len(devs) > 1 && tr.Cfg.MicroBatch == 0 {
		return nil
	}
	for _, d := range devs {
		if _, ok := d.(gpuBudget); !ok {
			return nil
		}
	}
	es, err := ml.EstimateResidentDevices(tr.Model, tr.Cfg, len(devs))
	if err != nil {
		return nil
	}
	return es
}

// checkResident checks a resident run's memory before it is placed: each
// device's estimate against that device's budget (the refusal names the
// bytes and the budget, accel.Budget.Check, as devtrain.New's), and on the
// host what stays there (residentHostMemory) against the host's budget.
// It returns the host figure.
func checkResident(devs []accel.Backend, tr *ml.Trainer, es []ml.MemoryEstimate, host accel.Budget, train, test ml.Dataset) (uint64, error) {
	for i, d := range devs {
		what := fmt.Sprintf("model %s with batch %d", tr.Model.Spec, tr.Cfg.BatchSize)
		if tr.Cfg.MicroBatch > 0 && tr.Cfg.MicroBatch != tr.Cfg.BatchSize || len(devs) > 1 {
			what += fmt.Sprintf(" (micro-batches of %d, device %d of %d)", tr.Cfg.MicroBatch, i+1, len(devs))
		}
		if err := d.(gpuBudget).Budget().Check(what, es[i].PeakBytes); err != nil {
			return 0, err
		}
	}
	need, err := residentHostMemory(tr, train, test)
	if err != nil {
		return 0, err
	}
	what := fmt.Sprintf("model %s with batch %d resident on the GPU (on the host: the dataset, the model's copy and one batch)", tr.Model.Spec, tr.Cfg.BatchSize)
	return need, host.Check(what, need)
}

// residentHostMemory is what a resident run keeps on the host: the
// datasets (train and test), the model's host copy (its parameters and
// buffers, their gradients and the optimizer's slots, which Sync fills:
// ml.EstimateModel at batch 0) and the batch the step gathers and uploads
// (its values and labels). The activations live on the device.
func residentHostMemory(tr *ml.Trainer, train, test ml.Dataset) (uint64, error) {
	e, err := ml.EstimateModel(tr.Model, ml.EstimateOptions{Optimizer: tr.Cfg.Optimizer, Momentum: tr.Cfg.Momentum, Precision: tr.Cfg.Precision})
	if err != nil {
		return 0, err
	}
	n := e.PeakBytes
	for _, d := range []ml.Dataset{train, test} {
		n += 4*uint64(len(d.X)) + 8*uint64(len(d.Y)) + uint64(len(d.Bytes)) + 8*uint64(len(d.Rows))
	}
	b := uint64(tr.Cfg.BatchSize)
	return n + 4*b*uint64(tr.Model.SampleSize()) + 8*b + 4*b, nil
}
