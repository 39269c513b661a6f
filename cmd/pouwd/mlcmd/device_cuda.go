//go:build cuda || cudaemu

package mlcmd

import (
	"fmt"
	"strconv"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/cuda"
)

const cudaBuilt = true

// maxGPUs bounds gpu:all's probing.
const maxGPUs = 64

// openGPUs opens the CUDA backend on GPU N, or on every GPU (gpu:all: GPUs
// 0, 1, ... until one cannot be opened). An unusable GPU is an error, never
// a silent CPU run: the user asked for a GPU.
func openGPUs(arg string, o cpu.Options) ([]accel.Backend, string, error) {
	opts := cuda.DefaultOptions()
	opts.CPU = o
	if arg != "all" {
		i, _ := strconv.Atoi(arg)
		b, err := cuda.OpenForTraining(i, opts)
		if err != nil {
			return nil, "", fmt.Errorf("--device gpu:%d: %w", i, err)
		}
		return []accel.Backend{b}, "", nil
	}
	var bs []accel.Backend
	for i := 0; i < maxGPUs; i++ {
		b, err := cuda.OpenForTraining(i, opts)
		if err != nil {
			if i == 0 {
				return nil, "", fmt.Errorf("--device gpu:all: %w", err)
			}
			break
		}
		bs = append(bs, b)
	}
	return bs, fmt.Sprintf("device gpu:all: %d GPUs", len(bs)), nil
}
