//go:build !(cuda || cudaemu)

package mlcmd

import (
	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
)

const cudaBuilt = false

func openGPUs(string, cpu.Options) ([]accel.Backend, string, error) {
	return nil, "", errNoCUDA
}
