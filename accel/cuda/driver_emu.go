//go:build cudaemu && !cuda

package cuda

/*
#cgo CXXFLAGS: -std=c++17 -O2 -fno-fast-math -pthread -Wno-unknown-pragmas
#cgo LDFLAGS: -pthread
#include <stdlib.h>
#include <string.h>
int pouw_emu_kernel(const char* name, int* np);
void pouw_emu_launch(int k, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, void** params);
// Emulated device addresses are host addresses; these helpers keep the
// integer-to-pointer conversions on the C side.
static void pouw_emu_htod(unsigned long long dst, const void* src, size_t n) { memcpy((void*)dst, src, n); }
static void pouw_emu_dtoh(void* dst, unsigned long long src, size_t n) { memcpy(dst, (const void*)src, n); }
static void pouw_emu_dtod(unsigned long long dst, unsigned long long src, size_t n) { memmove((void*)dst, (const void*)src, n); }
static void pouw_emu_memset32(unsigned long long dst, unsigned v, size_t n) {
	unsigned* p = (unsigned*)dst;
	for (size_t i = 0; i < n; i++) p[i] = v;
}
static unsigned long long pouw_emu_alloc(size_t n) { return (unsigned long long)aligned_alloc(256, (n + 255) / 256 * 256 + 256); }
static void pouw_emu_free(unsigned long long p) { free((void*)p); }
*/
import "C"

import (
	"embed"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"unsafe"
)

// emu.cc #includes kernels/*.cu, which the go command does not track (they
// are outside the package directory's C sources). Embedding them makes them
// inputs of this package's build, so editing a kernel rebuilds the
// emulator.
//
//go:embed kernels/*.cu kernels/*.cuh
var kernelSources embed.FS

// Built reports whether this binary contains the CUDA backend (here: its
// host emulator).
const Built = true

const emulated = true

// emuMemory is the device memory the emulator reports.
const emuMemory = 1 << 30

func guardActive() bool { return true }

// emuDriver runs kernels/*.cu compiled for the host (emu.cc). "Device"
// memory is host memory from malloc; a launch runs the grid before it
// returns.
type emuDriver struct {
	mu    sync.Mutex
	ids   [numKernels]C.int
	np    [numKernels]int
	sizes map[devPtr]uint64
	used  uint64
}

// emuDevicesEnv sets how many device indices the emulator answers (1 to
// 8; default 1), so that several-GPU code paths (gpu:all) can be tested:
// every Open makes an independent device (its own memory), whatever its
// index.
const emuDevicesEnv = "POUW_CUDAEMU_DEVICES"

func openDriver(index int) (driver, error) {
	devices := 1
	if v, err := strconv.Atoi(os.Getenv(emuDevicesEnv)); err == nil && v >= 1 && v <= 8 {
		devices = v
	}
	if index < 0 || index >= devices {
		return nil, fmt.Errorf("%w: device index %d, expected 0..%d (emulator; %s sets the count)", ErrNoGPU, index, devices-1, emuDevicesEnv)
	}
	d := &emuDriver{sizes: map[devPtr]uint64{}}
	for k, name := range kernelNames {
		cs := C.CString(name)
		var np C.int
		id := C.pouw_emu_kernel(cs, &np)
		C.free(unsafe.Pointer(cs))
		if id < 0 {
			return nil, fmt.Errorf("cuda emulator: kernel %s is not in emu.cc's table", name)
		}
		d.ids[k], d.np[k] = id, int(np)
	}
	return d, nil
}

func (d *emuDriver) info() deviceInfo {
	return deviceInfo{Name: "pouwd CUDA emulator", UUID: "GPU-00000000-0000-0000-0000-000000000000", TotalMem: emuMemory, SMs: 4, CCMajor: 8}
}

func (d *emuDriver) memInfo() (free, total uint64, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return emuMemory - min(d.used, emuMemory), emuMemory, nil
}

func (d *emuDriver) alloc(bytes uint64) (devPtr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.used+bytes > emuMemory {
		return 0, fmt.Errorf("cuda emulator: out of memory (%d bytes requested, %d in use of %d)", bytes, d.used, uint64(emuMemory))
	}
	dp := devPtr(C.pouw_emu_alloc(C.size_t(bytes)))
	if dp == 0 {
		return 0, fmt.Errorf("cuda emulator: malloc(%d) failed", bytes)
	}
	d.sizes[dp] = bytes
	d.used += bytes
	return dp, nil
}

func (d *emuDriver) free(p devPtr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.sizes[p]
	if !ok {
		return fmt.Errorf("cuda emulator: free of unknown pointer %#x", p)
	}
	delete(d.sizes, p)
	d.used -= n
	C.pouw_emu_free(C.ulonglong(p))
	return nil
}

func (d *emuDriver) htod(dst devPtr, src unsafe.Pointer, bytes uint64) error {
	C.pouw_emu_htod(C.ulonglong(dst), src, C.size_t(bytes))
	return nil
}

func (d *emuDriver) dtoh(dst unsafe.Pointer, src devPtr, bytes uint64) error {
	C.pouw_emu_dtoh(dst, C.ulonglong(src), C.size_t(bytes))
	return nil
}

func (d *emuDriver) dtod(dst, src devPtr, bytes uint64) error {
	C.pouw_emu_dtod(C.ulonglong(dst), C.ulonglong(src), C.size_t(bytes))
	return nil
}

func (d *emuDriver) memsetD32(dst devPtr, v uint32, n uint64) error {
	C.pouw_emu_memset32(C.ulonglong(dst), C.uint(v), C.size_t(n))
	return nil
}

func (d *emuDriver) launch(k kernel, grid, block [3]uint32, args []uint64) error {
	if len(args) != d.np[k] {
		return fmt.Errorf("cuda emulator: %s takes %d arguments, launched with %d", k, d.np[k], len(args))
	}
	if slices.Contains(grid[:], 0) {
		return fmt.Errorf("cuda emulator: %s launched with grid %v", k, grid)
	}
	if block[0]*block[1]*block[2] > 1024 {
		return fmt.Errorf("cuda emulator: %s launched with block %v (> 1024 threads)", k, block)
	}
	emuLaunchMu.Lock() // emu.cc's grid and barrier state is global
	defer emuLaunchMu.Unlock()
	n := len(args)
	mem := C.malloc(C.size_t(16*n + 8))
	defer C.free(mem)
	pp := unsafe.Slice((*unsafe.Pointer)(mem), n)
	slots := unsafe.Slice((*uint64)(unsafe.Add(mem, 8*n)), n)
	for i, a := range args {
		slots[i] = a
		pp[i] = unsafe.Pointer(&slots[i])
	}
	C.pouw_emu_launch(d.ids[k], C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block[0]), C.uint(block[1]), C.uint(block[2]), (*unsafe.Pointer)(mem))
	return nil
}

var emuLaunchMu sync.Mutex

func (d *emuDriver) sync() error  { return nil }
func (d *emuDriver) close() error { return nil }
