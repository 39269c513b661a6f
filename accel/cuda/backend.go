//go:build cuda || cudaemu

package cuda

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"unsafe"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
)

// Backend is the canonical CUDA backend: accel.Backend's Gemm on the GPU
// (same bits as accel/cpu), plus device buffers and the device kernels of
// ops.go for engines that keep tensors on the GPU. It is safe for
// concurrent use; device work is serialised on the default stream.
type Backend struct {
	mu     sync.Mutex
	drv    driver
	inf    deviceInfo
	index  int
	opts   Options
	budget accel.Budget
	limit  uint64
	used   uint64
	peak   uint64
	cpu    *cpu.Backend
	sig    [numKernels]string // parameter kinds per kernel, from the PTX
	// Staging buffers of the host-memory Gemm (A, B, C), grown as needed.
	stage [3]*Buffer
	// The tree sums' scratch (ops.go treeSum), grown as needed and kept:
	// freeing it after every sum would wait for the device each time.
	tree   *Buffer
	closed bool
}

var _ accel.Backend = (*Backend)(nil)

// Open opens GPU index (CUDA device order) with the options. It fails with
// an error wrapping ErrNoGPU when no usable GPU is there (see doc.go for
// what happens on machines without the driver library).
func Open(index int, o Options) (*Backend, error) {
	o = o.withDefaults()
	if !(o.BudgetFraction > 0 && o.BudgetFraction <= 1) {
		return nil, fmt.Errorf("cuda: budget fraction = %v, expected 0 < fraction <= 1", o.BudgetFraction)
	}
	switch o.Kernel {
	case "auto", "t128", "t64", "t32", "ref":
	default:
		return nil, fmt.Errorf("cuda: kernel %q, expected auto, t128, t64, t32 or ref", o.Kernel)
	}
	cb, err := cpu.New(o.CPU)
	if err != nil {
		return nil, err
	}
	drv, err := openDriver(index)
	if err != nil {
		return nil, err
	}
	b := &Backend{drv: drv, inf: drv.info(), index: index, opts: o, cpu: cb}
	if err := b.loadSignatures(); err != nil {
		drv.close()
		return nil, err
	}
	free, total, err := drv.memInfo()
	if err != nil {
		drv.close()
		return nil, fmt.Errorf("cuda: cuMemGetInfo: %v", err)
	}
	_ = total
	b.budget = accel.Budget{Device: b.Device(), Available: free, Fraction: o.BudgetFraction}
	b.limit = b.budget.Limit()
	return b, nil
}

// OpenForTraining is Open for whole training runs: on the host emulator
// (tag cudaemu), which runs a tiled GEMM's threads one by one meeting at
// barriers, far too slowly for training, it takes the reference kernel,
// which computes the same bits. On a GPU it is Open.
func OpenForTraining(index int, o Options) (*Backend, error) {
	if emulated {
		o.Kernel = "ref"
	}
	return Open(index, o)
}

// OpenOrCPU opens GPU index, or returns the CPU backend with a message
// saying why (e.g. "cuda: no usable NVIDIA GPU: cuInit failed: ...;
// training on CPU"). The message is empty when the GPU was opened.
func OpenOrCPU(index int, o Options) (accel.Backend, string, error) {
	b, err := Open(index, o)
	if err == nil {
		return b, "", nil
	}
	return cpuFallback(o, fmt.Errorf("cuda: %w", err))
}

// Device names the device, e.g. "gpu0 (NVIDIA H200)".
func (b *Backend) Device() string { return fmt.Sprintf("gpu%d (%s)", b.index, b.inf.Name) }

// Name identifies the backend and its GEMM kernel choice, e.g.
// "cuda/auto (NVIDIA H200)".
func (b *Backend) Name() string {
	if emulated {
		return "cuda-emu/" + b.opts.Kernel
	}
	return fmt.Sprintf("cuda/%s (%s)", b.opts.Kernel, b.inf.Name)
}

// Threads is the number of host goroutines ml may use for the work it
// keeps on the host (Options.CPU.Threads); it never changes bits.
func (b *Backend) Threads() int { return b.cpu.Threads() }

// SMs is the device's multiprocessor count.
func (b *Backend) SMs() int { return b.inf.SMs }

// Emulated reports whether this is the host emulator (build tag cudaemu).
func (b *Backend) Emulated() bool { return emulated }

// Close frees the staging buffers and releases the device. Buffers the
// caller still holds become invalid.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	for i, s := range b.stage {
		if s != nil {
			b.freeLocked(s)
			b.stage[i] = nil
		}
	}
	if b.tree != nil {
		b.freeLocked(b.tree)
		b.tree = nil
	}
	b.closed = true
	return b.drv.close()
}

// MemStats is the allocator's view of device memory.
type MemStats struct {
	Used, Peak, Limit uint64 // bytes held through this backend, the most held, the budget
	Free, Total       uint64 // the device's free and total memory now (all processes)
}

// Memory reports the allocator's use and the device's memory.
func (b *Backend) Memory() (MemStats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	free, total, err := b.drv.memInfo()
	return MemStats{Used: b.used, Peak: b.peak, Limit: b.limit, Free: free, Total: total}, err
}

// Budget is the memory budget the allocator enforces (the device memory
// free at Open times Options.BudgetFraction).
func (b *Backend) Budget() accel.Budget { return b.budget }

// ---------------------------------------------------------------- memory

// Buffer is device memory for n 4-byte values (float32, or int32 labels),
// allocated within the backend's budget. A Buffer from Slice is a view and
// is not freed separately.
type Buffer struct {
	b    *Backend
	ptr  devPtr
	n    int
	view bool
}

// Len is the number of 4-byte values.
func (x *Buffer) Len() int { return x.n }

// Slice returns a view of values [off, off+n).
func (x *Buffer) Slice(off, n int) *Buffer {
	if off < 0 || n < 0 || off+n > x.n {
		panic(fmt.Sprintf("cuda: Slice(%d, %d) of a %d-value buffer", off, n, x.n))
	}
	return &Buffer{b: x.b, ptr: x.ptr + devPtr(4*off), n: n, view: true}
}

// Alloc allocates a buffer of n values (uninitialised) within the budget.
// Over the budget it returns an error wrapping accel.ErrOverBudget that
// names the requested, used and budget bytes.
func (b *Backend) Alloc(n int) (*Buffer, error) { return b.AllocFor("buffer", n) }

// AllocFor is Alloc with a description of the workload for the error.
func (b *Backend) AllocFor(what string, n int) (*Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cuda: Alloc(%d)", n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.allocLocked(what, n)
}

func (b *Backend) allocLocked(what string, n int) (*Buffer, error) {
	if b.closed {
		return nil, errors.New("cuda: backend is closed")
	}
	bytes := 4 * uint64(n)
	if b.used+bytes > b.limit {
		return nil, fmt.Errorf("%w: cuda: %s requests %d bytes (%.1f MiB) on %s with %d bytes in use; the budget is %d bytes (fraction %.2f of %d bytes free at open)",
			accel.ErrOverBudget, what, bytes, float64(bytes)/(1<<20), b.Device(), b.used, b.limit, b.budget.Fraction, b.budget.Available)
	}
	p, err := b.drv.alloc(max(bytes, 4))
	if err != nil {
		return nil, fmt.Errorf("cuda: cuMemAlloc of %d bytes for %s on %s (%d bytes in use by this backend): %w", bytes, what, b.Device(), b.used, err)
	}
	b.used += bytes
	b.peak = max(b.peak, b.used)
	return &Buffer{b: b, ptr: p, n: n}, nil
}

// Free returns the buffer's memory to the device and the budget.
func (x *Buffer) Free() error {
	if x.view {
		return errors.New("cuda: Free of a Slice view")
	}
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	return x.b.freeLocked(x)
}

func (b *Backend) freeLocked(x *Buffer) error {
	if x.ptr == 0 {
		return nil
	}
	// Kernels launched before may still use the memory.
	serr := b.drv.sync()
	err := b.drv.free(x.ptr)
	if err == nil {
		err = serr
	}
	b.used -= 4 * uint64(x.n)
	x.ptr, x.n = 0, 0
	return err
}

// Upload copies src into the buffer's first len(src) values.
func (x *Buffer) Upload(src []float32) error {
	if len(src) > x.n {
		return fmt.Errorf("cuda: Upload of %d values into a %d-value buffer", len(src), x.n)
	}
	if len(src) == 0 {
		return nil
	}
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	return x.b.drv.htod(x.ptr, unsafe.Pointer(&src[0]), 4*uint64(len(src)))
}

// Download copies the buffer's first len(dst) values into dst (waiting for
// the kernels before it).
func (x *Buffer) Download(dst []float32) error {
	if len(dst) > x.n {
		return fmt.Errorf("cuda: Download of %d values from a %d-value buffer", len(dst), x.n)
	}
	if len(dst) == 0 {
		return nil
	}
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	return x.b.drv.dtoh(unsafe.Pointer(&dst[0]), x.ptr, 4*uint64(len(dst)))
}

// UploadInt32 copies int32 values (labels, argmax indices) to the buffer.
func (x *Buffer) UploadInt32(src []int32) error {
	if len(src) == 0 {
		return nil
	}
	return x.Upload(unsafe.Slice((*float32)(unsafe.Pointer(&src[0])), len(src)))
}

// DownloadInt32 copies int32 values back.
func (x *Buffer) DownloadInt32(dst []int32) error {
	if len(dst) == 0 {
		return nil
	}
	return x.Download(unsafe.Slice((*float32)(unsafe.Pointer(&dst[0])), len(dst)))
}

// Zero sets every value to +0.
func (x *Buffer) Zero() error {
	if x.n == 0 {
		return nil
	}
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	return x.b.drv.memsetD32(x.ptr, 0, uint64(x.n))
}

// CopyFrom copies src's values into x (same length).
func (x *Buffer) CopyFrom(src *Buffer) error {
	if src.n != x.n {
		return fmt.Errorf("cuda: CopyFrom a %d-value buffer into a %d-value buffer", src.n, x.n)
	}
	if x.n == 0 {
		return nil
	}
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	return x.b.drv.dtod(x.ptr, src.ptr, 4*uint64(x.n))
}

// Sync waits for every launched kernel and reports a kernel failure.
func (b *Backend) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.drv.sync()
}

// ---------------------------------------------------------------- launching

var (
	entryParamsRE = regexp.MustCompile(`(?s)\.entry ([A-Za-z0-9_]+)\((.*?)\)`)
	paramRE       = regexp.MustCompile(`\.param \.(\w+) `)
)

// loadSignatures reads each kernel's parameter kinds from the PTX:
// 'i' 32-bit integer, 'f' float32, 'q' 64-bit (pointer or long long).
func (b *Backend) loadSignatures() error {
	_, text := ptxModules()
	sigs := map[string]string{}
	for _, t := range text {
		for _, m := range entryParamsRE.FindAllStringSubmatch(t, -1) {
			var s strings.Builder
			for _, p := range paramRE.FindAllStringSubmatch(m[2], -1) {
				switch p[1] {
				case "u32", "s32", "b32":
					s.WriteByte('i')
				case "f32":
					s.WriteByte('f')
				case "u64", "s64", "b64":
					s.WriteByte('q')
				default:
					return fmt.Errorf("cuda: kernel %s: parameter type .%s", m[1], p[1])
				}
			}
			sigs[m[1]] = s.String()
		}
	}
	for k, name := range kernelNames {
		s, ok := sigs[name]
		if !ok {
			return fmt.Errorf("cuda: kernel %s not in the PTX", name)
		}
		b.sig[k] = s
	}
	return nil
}

// launchArgs collects kernel arguments with their kinds, checked against
// the PTX signature at launch.
type launchArgs struct {
	v    []uint64
	kind []byte
}

func (a *launchArgs) i32(x int) *launchArgs {
	if x < math.MinInt32 || x > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: kernel argument %d does not fit in int32", x))
	}
	a.v, a.kind = append(a.v, uint64(int64(x))), append(a.kind, 'i')
	return a
}

func (a *launchArgs) i64(x int) *launchArgs {
	a.v, a.kind = append(a.v, uint64(int64(x))), append(a.kind, 'q')
	return a
}

func (a *launchArgs) f32(x float32) *launchArgs {
	a.v, a.kind = append(a.v, uint64(math.Float32bits(x))), append(a.kind, 'f')
	return a
}

// buf passes a device pointer (0 for a nil buffer).
func (a *launchArgs) buf(x *Buffer) *launchArgs {
	var p devPtr
	if x != nil {
		p = x.ptr
	}
	a.v, a.kind = append(a.v, uint64(p)), append(a.kind, 'q')
	return a
}

func args() *launchArgs { return &launchArgs{} }

// launchLocked launches k after checking the argument kinds.
func (b *Backend) launchLocked(k kernel, grid, block [3]uint32, a *launchArgs) error {
	if b.closed {
		return errors.New("cuda: backend is closed")
	}
	if string(a.kind) != b.sig[k] {
		return fmt.Errorf("cuda: %s launched with arguments %q, the PTX declares %q", k, a.kind, b.sig[k])
	}
	return b.drv.launch(k, grid, block, a.v)
}

func (b *Backend) launch(k kernel, grid, block [3]uint32, a *launchArgs) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.launchLocked(k, grid, block, a)
}

const threadsPerBlock = 256

// grid1 is the grid of a grid-stride kernel over n items.
func grid1(n int) [3]uint32 {
	blocks := (int64(n) + threadsPerBlock - 1) / threadsPerBlock
	return [3]uint32{uint32(min(max(blocks, 1), 65535)), 1, 1}
}

var block1 = [3]uint32{threadsPerBlock, 1, 1}

// launch1 runs a 1-D grid-stride kernel over n items (nothing when n = 0).
func (b *Backend) launch1(k kernel, n int, a *launchArgs) error {
	if n == 0 {
		return nil
	}
	return b.launch(k, grid1(n), block1, a)
}

// ---------------------------------------------------------------- GEMM

// Gemm computes the canonical C = op(A)·op(B) (accel.Backend) on the
// device: A and B are copied to device staging buffers, the kernel runs,
// C is copied back. It panics on malformed arguments (like accel/cpu) and
// on device errors; when the staging buffers would exceed the budget it
// runs on the CPU backend if Options.FallbackCPU is set and panics with
// the budget error otherwise. Engines that keep tensors on the device use
// GemmDevice instead.
func (b *Backend) Gemm(transA, transB bool, m, n, k int, a []float32, lda int, bm []float32, ldb int, c []float32, ldc int) {
	if !accel.GemmPrologue("cuda.Gemm", math.MaxInt32, transA, transB, m, n, k, a, lda, bm, ldb, c, ldc) {
		return
	}
	err := b.gemmHost(transA, transB, m, n, k, a, lda, bm, ldb, c, ldc)
	if err == nil {
		return
	}
	if b.opts.FallbackCPU && errors.Is(err, accel.ErrOverBudget) {
		b.cpu.Gemm(transA, transB, m, n, k, a, lda, bm, ldb, c, ldc)
		return
	}
	panic(err)
}

// span is the number of elements a rows x cols matrix with stride ld covers.
func span(rows, cols, ld int) int { return (rows-1)*ld + cols }

// stageLocked returns staging buffer i with at least n values.
func (b *Backend) stageLocked(i, n int, what string) (*Buffer, error) {
	if s := b.stage[i]; s != nil && s.n >= n {
		return s, nil
	}
	if s := b.stage[i]; s != nil {
		b.freeLocked(s)
		b.stage[i] = nil
	}
	s, err := b.allocLocked(what, n)
	if err != nil {
		return nil, err
	}
	b.stage[i] = s
	return s, nil
}

func (b *Backend) gemmHost(transA, transB bool, m, n, k int, a []float32, lda int, bm []float32, ldb int, c []float32, ldc int) error {
	ra, ca := m, k
	if transA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if transB {
		rb, cb = n, k
	}
	na, nb, nc := span(ra, ca, lda), span(rb, cb, ldb), m*n
	b.mu.Lock()
	defer b.mu.Unlock()
	what := fmt.Sprintf("GEMM %dx%dx%d staging", m, n, k)
	// Reserve all three before touching the device, so an over-budget
	// GEMM fails (or falls back) without partial work.
	if need := b.stageGrowth(0, na) + b.stageGrowth(1, nb) + b.stageGrowth(2, nc); b.used+need > b.limit {
		return fmt.Errorf("%w: cuda: %s requests %d more bytes on %s with %d bytes in use; the budget is %d bytes (fraction %.2f of %d bytes free at open)",
			accel.ErrOverBudget, what, need, b.Device(), b.used, b.limit, b.budget.Fraction, b.budget.Available)
	}
	da, err := b.stageLocked(0, na, what)
	if err != nil {
		return err
	}
	db, err := b.stageLocked(1, nb, what)
	if err != nil {
		return err
	}
	dc, err := b.stageLocked(2, nc, what)
	if err != nil {
		return err
	}
	if err := b.drv.htod(da.ptr, unsafe.Pointer(&a[0]), 4*uint64(na)); err != nil {
		return err
	}
	if err := b.drv.htod(db.ptr, unsafe.Pointer(&bm[0]), 4*uint64(nb)); err != nil {
		return err
	}
	if err := b.gemmLocked(transA, transB, m, n, k, da, lda, db, ldb, dc, n); err != nil {
		return err
	}
	if ldc == n {
		return b.drv.dtoh(unsafe.Pointer(&c[0]), dc.ptr, 4*uint64(nc))
	}
	tmp := make([]float32, nc)
	if err := b.drv.dtoh(unsafe.Pointer(&tmp[0]), dc.ptr, 4*uint64(nc)); err != nil {
		return err
	}
	for i := 0; i < m; i++ {
		copy(c[i*ldc:i*ldc+n], tmp[i*n:(i+1)*n])
	}
	return nil
}

// stageGrowth is the number of bytes staging buffer i must grow by to hold
// n values (its old memory is freed first).
func (b *Backend) stageGrowth(i, n int) uint64 {
	if s := b.stage[i]; s != nil {
		if s.n >= n {
			return 0
		}
		return 4 * uint64(n-s.n)
	}
	return 4 * uint64(n)
}

// GemmKernel reports the GEMM kernel used for an m x n output: "t128",
// "t64" or "t32" (Options.Kernel "auto": the largest tile that still gives
// every SM a block), or the forced Options.Kernel.
func (b *Backend) GemmKernel(m, n int) string {
	return kernelNames[b.gemmKernel(m, n)][len("pouw_gemm_"):]
}

func (b *Backend) gemmKernel(m, n int) kernel {
	switch b.opts.Kernel {
	case "t128":
		return kGemmT128
	case "t64":
		return kGemmT64
	case "t32":
		return kGemmT32
	case "ref":
		return kGemmRef
	}
	tiles := func(t int) int { return ((m + t - 1) / t) * ((n + t - 1) / t) }
	switch sms := max(b.inf.SMs, 1); {
	case tiles(128) >= sms:
		return kGemmT128
	case tiles(64) >= sms:
		return kGemmT64
	}
	return kGemmT32
}

// GemmDevice computes the canonical C = op(A)·op(B) on device buffers
// (same layout rules as Gemm: row strides lda, ldb, ldc in values).
func (b *Backend) GemmDevice(transA, transB bool, m, n, k int, a *Buffer, lda int, bm *Buffer, ldb int, c *Buffer, ldc int) error {
	if m == 0 || n == 0 {
		return nil
	}
	ra, ca := m, k
	if transA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if transB {
		rb, cb = n, k
	}
	for _, x := range []struct {
		name           string
		buf            *Buffer
		rows, cols, ld int
	}{{"A", a, ra, ca, lda}, {"B", bm, rb, cb, ldb}, {"C", c, m, n, ldc}} {
		if x.rows == 0 {
			continue
		}
		if x.ld < x.cols || x.buf.n < span(x.rows, x.cols, x.ld) || x.ld > math.MaxInt32 {
			return fmt.Errorf("cuda.GemmDevice: %s is %d x %d with stride %d, needs %d values, buffer has %d", x.name, x.rows, x.cols, x.ld, span(x.rows, x.cols, x.ld), x.buf.n)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if k == 0 {
		for i := 0; i < m; i++ {
			if err := b.drv.memsetD32(c.ptr+devPtr(4*i*ldc), 0, uint64(n)); err != nil {
				return err
			}
		}
		return nil
	}
	return b.gemmLocked(transA, transB, m, n, k, a, lda, bm, ldb, c, ldc)
}

func bool01(v bool) int {
	if v {
		return 1
	}
	return 0
}

func (b *Backend) gemmLocked(transA, transB bool, m, n, k int, a *Buffer, lda int, bm *Buffer, ldb int, c *Buffer, ldc int) error {
	kern := b.gemmKernel(m, n)
	tile := map[kernel]int{kGemmRef: 16, kGemmT128: 128, kGemmT64: 64, kGemmT32: 32}[kern]
	gx, gy := (n+tile-1)/tile, (m+tile-1)/tile
	if gy > 65535 {
		return fmt.Errorf("cuda: GEMM with m = %d needs %d row tiles, more than 65535", m, gy)
	}
	block := [3]uint32{threadsPerBlock, 1, 1}
	if kern == kGemmRef {
		block = [3]uint32{16, 16, 1}
	}
	return b.launchLocked(kern, [3]uint32{uint32(gx), uint32(gy), 1}, block,
		args().i32(bool01(transA)).i32(bool01(transB)).i32(m).i32(n).i32(k).buf(a).i32(lda).buf(bm).i32(ldb).buf(c).i32(ldc))
}
