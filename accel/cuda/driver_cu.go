//go:build cuda && !cudaemu

package cuda

/*
#cgo LDFLAGS: -Wl,--wrap=cuInit -lcuda
int pouw_cuinit_calls(void);
int pouw_cuinit_result(void);
int pouw_cuinit_retry(void);
const char* pouw_cu_error_name(int r);
const char* pouw_cu_error_string(int r);
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"gorgonia.org/cu"
)

// Built reports whether this binary contains the CUDA backend.
const Built = true

const emulated = false

// guardActive reports whether gorgonia.org/cu's init went through the
// cuInit guard (guard_cuda.c), i.e. whether the binary was linked with
// -Wl,--wrap=cuInit as this package's cgo flags ask.
func guardActive() bool { return C.pouw_cuinit_calls() > 0 }

func cuResultString(r C.int) string {
	return fmt.Sprintf("%s (%d): %s", C.GoString(C.pouw_cu_error_name(r)), int(r), C.GoString(C.pouw_cu_error_string(r)))
}

// initError returns nil when cuInit succeeded, or an error wrapping
// ErrNoGPU with the driver's reason.
func initError() error {
	if !guardActive() {
		// cu's init ran the real cuInit unguarded; since the process is
		// still alive, it succeeded.
		return nil
	}
	r := C.pouw_cuinit_result()
	if r != 0 {
		r = C.pouw_cuinit_retry() // e.g. devices that appeared since start-up
	}
	if r != 0 {
		return fmt.Errorf("%w: cuInit failed: %s", ErrNoGPU, cuResultString(r))
	}
	return nil
}

// cuDriver is the real device: a primary context on one GPU, the embedded
// PTX modules loaded (JIT-compiled by the driver for this GPU), and the
// kernel functions looked up once.
type cuDriver struct {
	dev  cu.Device
	ctx  cu.CUContext
	mods []cu.Module
	fns  [numKernels]cu.Function
	inf  deviceInfo
}

func openDriver(index int) (driver, error) {
	if err := initError(); err != nil {
		return nil, err
	}
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("%w: cuDeviceGetCount: %v", ErrNoGPU, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: the driver reports no device", ErrNoGPU)
	}
	if index < 0 || index >= n {
		return nil, fmt.Errorf("%w: device index %d, expected 0..%d", ErrNoGPU, index, n-1)
	}
	dev, err := cu.GetDevice(index)
	if err != nil {
		return nil, fmt.Errorf("cuda: cuDeviceGet(%d): %v", index, err)
	}
	ctx, err := dev.RetainPrimaryCtx()
	if err != nil {
		return nil, fmt.Errorf("cuda: retaining the primary context of device %d: %v", index, err)
	}
	d := &cuDriver{dev: dev, ctx: ctx}
	if err := d.do(d.load); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// load reads the device's properties and loads the PTX.
func (d *cuDriver) load() error {
	inf := deviceInfo{Driver: cu.Version()}
	var err error
	if inf.Name, err = d.dev.Name(); err != nil {
		return fmt.Errorf("cuda: device name: %v", err)
	}
	if u, err := d.dev.UUID(); err == nil {
		inf.UUID = "GPU-" + u.String()
	}
	total, err := d.dev.TotalMem()
	if err != nil {
		return fmt.Errorf("cuda: device memory: %v", err)
	}
	inf.TotalMem = uint64(total)
	if inf.SMs, err = d.dev.Attribute(cu.MultiprocessorCount); err != nil {
		return fmt.Errorf("cuda: SM count: %v", err)
	}
	inf.CCMajor, _ = d.dev.Attribute(cu.ComputeCapabilityMajor)
	inf.CCMinor, _ = d.dev.Attribute(cu.ComputeCapabilityMinor)
	if inf.CCMajor < 8 {
		return fmt.Errorf("%w: %s has compute capability %d.%d; the PTX needs 8.0 or newer", ErrNoGPU, inf.Name, inf.CCMajor, inf.CCMinor)
	}
	d.inf = inf
	names, text := ptxModules()
	found := map[string]cu.Module{}
	for _, n := range names {
		mod, err := cu.LoadData(text[n])
		if err != nil {
			return fmt.Errorf("cuda: loading %s (PTX ISA 7.8, CUDA 11.8) on %s with driver %d: %v", n, inf.Name, inf.Driver, err)
		}
		d.mods = append(d.mods, mod)
		for _, e := range ptxEntries(text[n]) {
			found[e] = mod
		}
	}
	var missing []string
	for k, name := range kernelNames {
		mod, ok := found[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if d.fns[k], err = mod.Function(name); err != nil {
			return fmt.Errorf("cuda: kernel %s: %v", name, err)
		}
	}
	if missing != nil {
		return fmt.Errorf("cuda: kernels missing from the embedded PTX: %s", strings.Join(missing, ", "))
	}
	return nil
}

// do runs f on a locked OS thread with the device's context current.
func (d *cuDriver) do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return fmt.Errorf("cuda: cuCtxSetCurrent: %v", err)
	}
	return f()
}

func (d *cuDriver) info() deviceInfo { return d.inf }

func (d *cuDriver) memInfo() (free, total uint64, err error) {
	err = d.do(func() error {
		f, t, err := cu.MemInfo()
		free, total = uint64(f), uint64(t)
		return err
	})
	return free, total, err
}

func (d *cuDriver) alloc(bytes uint64) (p devPtr, err error) {
	err = d.do(func() error {
		dp, err := cu.MemAlloc(int64(bytes))
		p = devPtr(dp)
		return err
	})
	return p, err
}

func (d *cuDriver) free(p devPtr) error {
	return d.do(func() error { return cu.MemFree(cu.DevicePtr(p)) })
}

func (d *cuDriver) htod(dst devPtr, src unsafe.Pointer, bytes uint64) error {
	return d.do(func() error { return cu.MemcpyHtoD(cu.DevicePtr(dst), src, int64(bytes)) })
}

func (d *cuDriver) dtoh(dst unsafe.Pointer, src devPtr, bytes uint64) error {
	return d.do(func() error { return cu.MemcpyDtoH(dst, cu.DevicePtr(src), int64(bytes)) })
}

func (d *cuDriver) dtod(dst, src devPtr, bytes uint64) error {
	return d.do(func() error { return cu.Memcpy(cu.DevicePtr(dst), cu.DevicePtr(src), int64(bytes)) })
}

func (d *cuDriver) memsetD32(dst devPtr, v uint32, n uint64) error {
	return d.do(func() error { return cu.MemsetD32(cu.DevicePtr(dst), v, int64(n)) })
}

func (d *cuDriver) launch(k kernel, grid, block [3]uint32, args []uint64) error {
	params := make([]unsafe.Pointer, len(args))
	for i := range args {
		params[i] = unsafe.Pointer(&args[i])
	}
	return d.do(func() error {
		err := d.fns[k].Launch(int(grid[0]), int(grid[1]), int(grid[2]), int(block[0]), int(block[1]), int(block[2]), 0, cu.Stream{}, params)
		if err != nil {
			return fmt.Errorf("cuda: launching %s grid %v block %v: %v", k, grid, block, err)
		}
		return nil
	})
}

func (d *cuDriver) sync() error {
	return d.do(func() error {
		if err := cu.Synchronize(); err != nil {
			return fmt.Errorf("cuda: kernel failed: %v", err)
		}
		return nil
	})
}

func (d *cuDriver) close() error {
	return d.do(func() error {
		for _, m := range d.mods {
			m.Unload()
		}
		d.mods = nil
		return d.dev.ReleasePrimaryCtx()
	})
}
