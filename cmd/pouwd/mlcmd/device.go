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
