//go:build cuda || cudaemu

package cuda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/canon"
	"github.com/pouw/pouwd/accel/cpu"
)

// openOrSkip opens GPU 0 (or the emulator); on a machine without a usable
// GPU the test is skipped with the reason.
func openOrSkip(t testing.TB, o Options) *Backend {
	t.Helper()
	b, err := Open(0, o)
	if errors.Is(err, ErrNoGPU) {
		t.Skipf("no usable GPU, skipping the device test: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func mustBuf(t testing.TB, b *Backend, v []float32) *Buffer {
	t.Helper()
	x, err := b.Alloc(len(v))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Upload(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Free() })
	return x
}

func mustInt32Buf(t testing.TB, b *Backend, v []int32) *Buffer {
	t.Helper()
	x, err := b.Alloc(len(v))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.UploadInt32(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Free() })
	return x
}

func download(t testing.TB, x *Buffer) []float32 {
	t.Helper()
	out := make([]float32, x.Len())
	if err := x.Download(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameBits fails the test at the first value whose bits differ.
func sameBits(t testing.TB, what string, got, want []float32) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d is %g (%#08x), want %g (%#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// randVals returns n values of mixed magnitude with some exact zeros,
// negative zeros and tiny values (no NaN: NaN payloads are not canonical,
// see doc.go).
func randVals(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		switch r.IntN(20) {
		case 0:
			v[i] = 0
		case 1:
			v[i] = float32(math.Copysign(0, -1))
		case 2:
			v[i] = float32(r.NormFloat64() * 1e-20)
		default:
			v[i] = float32(r.NormFloat64())
		}
	}
	return v
}

func TestOpen(t *testing.T) {
	b, err := Open(0, DefaultOptions())
	if err != nil {
		if !errors.Is(err, ErrNoGPU) {
			t.Fatalf("Open without a usable GPU: %v (expected an error wrapping ErrNoGPU)", err)
		}
		be, msg, err2 := OpenOrCPU(0, DefaultOptions())
		if err2 != nil || !strings.HasPrefix(be.Name(), "cpu/") || !strings.HasSuffix(msg, "; training on CPU") {
			t.Fatalf("OpenOrCPU = %v, %q, %v", be, msg, err2)
		}
		t.Skipf("no usable GPU (%v); OpenOrCPU says %q", err, msg)
	}
	defer b.Close()
	s, err := b.Memory()
	if err != nil || s.Total == 0 || s.Limit == 0 || s.Used != 0 {
		t.Fatalf("Memory = %+v, %v", s, err)
	}
	t.Logf("%s: %s, %d SMs, budget %d of %d bytes", b.Name(), b.Device(), b.SMs(), s.Limit, s.Total)
	if _, err := Open(99, DefaultOptions()); !errors.Is(err, ErrNoGPU) {
		t.Fatalf("Open(99) = %v, expected ErrNoGPU", err)
	}
}

// ---------------------------------------------------------------- GEMM

type gemmCase struct{ m, n, k int }

func gemmCases() []gemmCase {
	cs := []gemmCase{{1, 1, 1}, {1, 3, 17}, {3, 1, 5}, {17, 3, 1}, {1, 65, 3}, {65, 1, 129}, {17, 17, 17},
		{33, 65, 7}, {64, 64, 64}, {3, 129, 255}, {129, 3, 65}, {65, 129, 33}, {1, 1, 1000}, {2, 300, 2}}
	if !emulated {
		cs = append(cs, gemmCase{255, 257, 129}, gemmCase{129, 255, 513}, gemmCase{1000, 999, 17}, gemmCase{513, 255, 1031}, gemmCase{4, 2049, 9})
	} else {
		cs = append(cs, gemmCase{129, 130, 20})
	}
	return cs
}

// gemmOperands returns op(A) and op(B) stored with strides larger than
// their rows (lda = cols+pad) for the transposition flags.
func gemmOperands(r *rand.Rand, transA, transB bool, c gemmCase, pad int) (a []float32, lda int, bm []float32, ldb int) {
	ra, ca := c.m, c.k
	if transA {
		ra, ca = c.k, c.m
	}
	rb, cb := c.k, c.n
	if transB {
		rb, cb = c.n, c.k
	}
	lda, ldb = ca+pad, cb+pad
	return randVals(r, (ra-1)*lda+ca), lda, randVals(r, (rb-1)*ldb+cb), ldb
}

func TestGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	kernels := []string{"auto", "t128", "t64", "t32", "ref"}
	backends := make([]*Backend, len(kernels))
	for i, kern := range kernels {
		o := DefaultOptions()
		o.Kernel = kern
		backends[i] = openOrSkip(t, o)
	}
	fast := cpu.MustNew(cpu.Options{Threads: runtime.NumCPU()}) // same bits as GemmRef (accel/cpu's tests)
	for _, c := range gemmCases() {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			pad := r.IntN(3)
			a, lda, bm, ldb := gemmOperands(r, tr[0], tr[1], c, pad)
			ldc := c.n + r.IntN(2)
			want := make([]float32, (c.m-1)*ldc+c.n)
			for i := range want {
				want[i] = 12345 // the gaps between rows must survive
			}
			if c.m*c.n*c.k < 1<<21 {
				cpu.GemmRef(tr[0], tr[1], c.m, c.n, c.k, a, lda, bm, ldb, want, ldc)
			} else {
				fast.Gemm(tr[0], tr[1], c.m, c.n, c.k, a, lda, bm, ldb, want, ldc)
			}
			for i, b := range backends {
				got := make([]float32, len(want))
				for i := range got {
					got[i] = 12345
				}
				b.Gemm(tr[0], tr[1], c.m, c.n, c.k, a, lda, bm, ldb, got, ldc)
				sameBits(t, fmt.Sprintf("%s %dx%dx%d trans %v lda %d ldb %d ldc %d", kernels[i], c.m, c.n, c.k, tr, lda, ldb, ldc), got, want)
			}
		}
	}
}

// TestGemmSignedZero: every product underflows, so each chain is ±0, and
// a padded step (fma(0, 0, -0) = +0) would flip -0 results.
func TestGemmSignedZero(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []gemmCase{{5, 7, 3}, {33, 65, 9}, {130, 129, 17}} {
		a := make([]float32, c.m*c.k)
		bm := make([]float32, c.k*c.n)
		for i := range a {
			a[i] = float32(1e-25 * (r.Float64() + 0.5))
		}
		for i := range bm {
			bm[i] = float32(-1e-25 * (r.Float64() + 0.5))
		}
		want := make([]float32, c.m*c.n)
		got := make([]float32, c.m*c.n)
		cpu.GemmRef(false, false, c.m, c.n, c.k, a, c.k, bm, c.n, want, c.n)
		if !math.Signbit(float64(want[0])) {
			t.Fatal("test setup: expected -0 results")
		}
		for _, kern := range []string{"t128", "t64", "t32", "ref"} {
			b.opts.Kernel = kern
			b.Gemm(false, false, c.m, c.n, c.k, a, c.k, bm, c.n, got, c.n)
			sameBits(t, fmt.Sprintf("%s %v", kern, c), got, want)
		}
	}
}

// TestGemmSpecial covers Inf and NaN operands (NaN bits are compared only
// as NaN-ness: payloads are not canonical) and k = 0.
func TestGemmSpecial(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	a := []float32{1, float32(math.Inf(1)), 2, 3, 0, 5}
	bm := []float32{1, 2, 3, 4, float32(math.Inf(-1)), 6}
	want := make([]float32, 4)
	got := make([]float32, 4)
	cpu.GemmRef(false, false, 2, 2, 3, a, 3, bm, 2, want, 2)
	b.Gemm(false, false, 2, 2, 3, a, 3, bm, 2, got, 2)
	for i := range want {
		if math.IsNaN(float64(want[i])) != math.IsNaN(float64(got[i])) || (!math.IsNaN(float64(want[i])) && got[i] != want[i]) {
			t.Fatalf("value %d: %g, want %g", i, got[i], want[i])
		}
	}
	c := []float32{7, 7, 7}
	b.Gemm(false, false, 1, 3, 0, nil, 0, nil, 3, c, 3)
	sameBits(t, "k=0", c, []float32{0, 0, 0})
}

func TestGemmDevice(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(5, 6))
	c := gemmCase{70, 33, 45}
	a, lda, bm, ldb := gemmOperands(r, true, false, c, 1)
	want := make([]float32, c.m*c.n)
	cpu.GemmRef(true, false, c.m, c.n, c.k, a, lda, bm, ldb, want, c.n)
	da, db := mustBuf(t, b, a), mustBuf(t, b, bm)
	dc := mustBuf(t, b, make([]float32, c.m*c.n))
	if err := b.GemmDevice(true, false, c.m, c.n, c.k, da, lda, db, ldb, dc, c.n); err != nil {
		t.Fatal(err)
	}
	sameBits(t, "GemmDevice", download(t, dc), want)
	if err := b.GemmDevice(true, false, c.m, c.n, c.k, da, lda, db, ldb, dc.Slice(0, 10), c.n); err == nil {
		t.Fatal("GemmDevice accepted a too-short C")
	}
}

// ---------------------------------------------------------------- transcendentals

// transcendentalInputs: every float32 exponent with random mantissas,
// the special values and each function's switch points.
func transcendentalInputs(r *rand.Rand, n int) []float32 {
	var x []float32
	for _, v := range []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 1, -1, 0.5, -0.5, 2, -2, 4, -4, 20, -20,
		88.72283, 88.72284, 89, 89.0001, -103.97, -104, -104.0001, 1e-45, -1e-45, 1.17549435e-38, math.MaxFloat32, -math.MaxFloat32, math.Sqrt2, 1 / math.Sqrt2} {
		x = append(x, float32(v), math.Nextafter32(float32(v), float32(math.Inf(1))), math.Nextafter32(float32(v), float32(math.Inf(-1))))
	}
	x = append(x, float32(math.NaN()), math.Float32frombits(0x7fc01234), math.Float32frombits(0xffc00001))
	for len(x) < n {
		switch r.IntN(3) {
		case 0: // any bit pattern
			x = append(x, math.Float32frombits(r.Uint32()))
		case 1: // the interesting range
			x = append(x, float32(r.NormFloat64()*4))
		default:
			x = append(x, float32((r.Float64()*2-1)*110))
		}
	}
	return x
}

func TestTranscendentals(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	if bits := math.Float32bits(float32(math.NaN())); bits != 0x7fc00000 {
		t.Fatalf("float32(math.NaN()) = %#x on this host; kernels/common.cuh assumes 0x7fc00000", bits)
	}
	n := 200000
	if emulated {
		n = 50000
	}
	x := transcendentalInputs(rand.New(rand.NewPCG(7, 8)), n)
	dx := mustBuf(t, b, x)
	dy := mustBuf(t, b, make([]float32, len(x)))
	for _, f := range []struct {
		name string
		dev  func(y, x *Buffer) error
		ref  func(float32) float32
	}{{"Exp32", b.Exp, canon.Exp32}, {"Log32", b.Log, canon.Log32}, {"Tanh32", b.Tanh, canon.Tanh32}, {"Erf32", b.Erf, canon.Erf32}} {
		if err := f.dev(dy, dx); err != nil {
			t.Fatal(err)
		}
		got := download(t, dy)
		for i, v := range x {
			if w := f.ref(v); math.Float32bits(got[i]) != math.Float32bits(w) {
				t.Fatalf("%s(%g = %#08x) = %g (%#08x), canon gives %g (%#08x)", f.name, v, math.Float32bits(v), got[i], math.Float32bits(got[i]), w, math.Float32bits(w))
			}
		}
	}
}

// ---------------------------------------------------------------- budget

func TestBudget(t *testing.T) {
	o := DefaultOptions()
	o.BudgetFraction = 1e-4 // ~0.1 MB of the emulator's 1 GiB; ~14 MB of an H200
	b := openOrSkip(t, o)
	limit := b.Budget().Limit()
	if limit == 0 {
		t.Skip("device reports no free memory")
	}
	n := int(limit / 4 / 2)
	x, err := b.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	n2 := int((limit-4*uint64(n))/4) + 1 // one value too many
	_, err = b.AllocFor("mlp:784-256-10 batch 64", n2)
	if !errors.Is(err, accel.ErrOverBudget) {
		t.Fatalf("second allocation: %v, expected ErrOverBudget", err)
	}
	for _, s := range []string{fmt.Sprintf("requests %d bytes", 4*n2), fmt.Sprintf("%d bytes in use", 4*n), fmt.Sprintf("budget is %d bytes", limit), "mlp:784-256-10 batch 64"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if err := x.Free(); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.Memory(); s.Used != 0 || s.Peak != 4*uint64(n) {
		t.Fatalf("after free: %+v", s)
	}

	// A host GEMM whose staging exceeds the budget panics with the budget
	// error, or runs on the CPU with FallbackCPU (same bits).
	m := int(math.Sqrt(float64(limit/12))) + 8 // three m x m staging buffers exceed the limit
	r := rand.New(rand.NewPCG(9, 10))
	a, bm := randVals(r, m*m), randVals(r, m*m)
	want := make([]float32, m*m)
	cpu.MustNew(cpu.Options{Threads: runtime.NumCPU()}).Gemm(false, false, m, m, m, a, m, bm, m, want, m)
	func() {
		defer func() {
			err, _ := recover().(error)
			if !errors.Is(err, accel.ErrOverBudget) {
				t.Fatalf("over-budget Gemm: recovered %v, expected a panic with ErrOverBudget", err)
			}
		}()
		b.Gemm(false, false, m, m, m, a, m, bm, m, make([]float32, m*m), m)
	}()
	b.opts.FallbackCPU = true
	got := make([]float32, m*m)
	b.Gemm(false, false, m, m, m, a, m, bm, m, got, m)
	sameBits(t, "CPU fallback", got, want)
	if s, _ := b.Memory(); s.Used > limit {
		t.Fatalf("used %d > limit %d", s.Used, limit)
	}
}

// TestLaunchChecksSignature: a launch whose argument kinds differ from the
// PTX declaration is refused before it reaches the device.
func TestLaunchChecksSignature(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	err := b.launch(kAdd, grid1(1), block1, args().i32(1).buf(nil).buf(nil))
	if err == nil || !strings.Contains(err.Error(), `declares "qqq"`) {
		t.Fatalf("launch with an int32 where the PTX has a 64-bit n: %v", err)
	}
}

func TestTelemetry(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	g, err := b.Telemetry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if g.MemoryTotal == 0 || g.Name == "" {
		t.Fatalf("Telemetry = %+v", g)
	}
	t.Logf("%s: %d/%d bytes free, GPU %d%%, %d C, %.0f/%.0f W", g.Name, g.MemoryFree, g.MemoryTotal, g.UtilGPU, g.TemperatureC, g.PowerW, g.PowerLimitW)
}
