//go:build cuda

package mlcmd

import (
	"errors"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
)

const cudaBuilt = true

// openGPUs is where the CUDA backend (accel/cuda) plugs into `pouwd ml
// train`; until it does, gpu devices are refused with a clear message.
func openGPUs(string, cpu.Options) ([]accel.Backend, string, error) {
	return nil, "", errors.New("--device gpu: the CUDA backend is not wired into pouwd ml train yet; use --device cpu or cpu:N")
}
