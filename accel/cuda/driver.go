//go:build cuda || cudaemu

package cuda

import "unsafe"

// devPtr is a device address (CUdeviceptr).
type devPtr uint64

// deviceInfo describes the opened device.
type deviceInfo struct {
	Name     string
	UUID     string // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as NVML prints it
	TotalMem uint64
	SMs      int
	CCMajor  int
	CCMinor  int
	Driver   int // CUDA driver version, e.g. 12040
}

// driver is everything the backend needs from CUDA: the CUDA driver API
// through gorgonia.org/cu (build tag cuda, driver_cu.go) or the host
// emulator (build tag cudaemu, driver_emu.go). Calls are serialised by the
// Backend's mutex. Kernel arguments are passed as 8-byte slots holding the
// value in their low bytes (little-endian), as cuLaunchKernel reads them.
type driver interface {
	info() deviceInfo
	memInfo() (free, total uint64, err error)
	alloc(bytes uint64) (devPtr, error)
	free(p devPtr) error
	htod(dst devPtr, src unsafe.Pointer, bytes uint64) error
	dtoh(dst unsafe.Pointer, src devPtr, bytes uint64) error
	dtod(dst, src devPtr, bytes uint64) error
	memsetD32(dst devPtr, v uint32, n uint64) error
	launch(k kernel, grid, block [3]uint32, args []uint64) error
	sync() error
	close() error
}
