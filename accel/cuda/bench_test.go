//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/pouw/pouwd/accel/cpu"
)

// fp32PeakTFLOPS is the device's FP32 CUDA-core peak used for "% of peak":
// $POUW_FP32_PEAK_TFLOPS, default 67 (H200 SXM: 132 SMs x 128 FP32 lanes x
// 2 flops x 1.98 GHz). Tensor cores are not used (canonical GEMM).
func fp32PeakTFLOPS() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("POUW_FP32_PEAK_TFLOPS"), 64); err == nil && v > 0 {
		return v
	}
	return 67
}

// TestGemmLarge checks big products bit for bit against the CPU backend
// (whose kernels equal cpu.GemmRef; accel/cpu tests that).
func TestGemmLarge(t *testing.T) {
	if emulated {
		t.Skip("too slow for the emulator")
	}
	b := openOrSkip(t, DefaultOptions())
	ref := cpu.MustNew(cpu.Options{Threads: runtime.NumCPU()})
	r := rand.New(rand.NewPCG(31, 32))
	for _, c := range []gemmCase{{1024, 1024, 1024}, {2047, 1000, 3001}, {64, 4096, 784}, {4097, 33, 255}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}} {
			a, lda, bm, ldb := gemmOperands(r, tr[0], tr[1], c, 0)
			want := make([]float32, c.m*c.n)
			got := make([]float32, c.m*c.n)
			ref.Gemm(tr[0], tr[1], c.m, c.n, c.k, a, lda, bm, ldb, want, c.n)
			t0 := time.Now()
			b.Gemm(tr[0], tr[1], c.m, c.n, c.k, a, lda, bm, ldb, got, c.n)
			t.Logf("%dx%dx%d trans %v: kernel %s, %v with transfers", c.m, c.n, c.k, tr, b.GemmKernel(c.m, c.n), time.Since(t0))
			sameBits(t, fmt.Sprintf("%dx%dx%d trans %v", c.m, c.n, c.k, tr), got, want)
		}
	}
}

// BenchmarkGemm measures the canonical GEMM on device-resident n x n
// matrices (kernel time, synchronised each iteration) and reports GFLOP/s
// and the share of the FP32 peak.
func BenchmarkGemm(bm *testing.B) {
	if emulated {
		bm.Skip("the emulator is not a performance model")
	}
	for _, n := range []int{1024, 2048, 4096} {
		for _, kern := range []string{"auto", "t128", "t64"} {
			bm.Run(fmt.Sprintf("n=%d/%s", n, kern), func(bm *testing.B) {
				o := DefaultOptions()
				o.Kernel = kern
				b := openOrSkip(bm, o)
				r := rand.New(rand.NewPCG(1, uint64(n)))
				da, db := mustBuf(bm, b, randVals(r, n*n)), mustBuf(bm, b, randVals(r, n*n))
				dc := mustBuf(bm, b, make([]float32, n*n))
				run := func() {
					if err := b.GemmDevice(false, false, n, n, n, da, n, db, n, dc, n); err != nil {
						bm.Fatal(err)
					}
					if err := b.Sync(); err != nil {
						bm.Fatal(err)
					}
				}
				run() // warm-up (JIT, clocks)
				bm.ResetTimer()
				for i := 0; i < bm.N; i++ {
					run()
				}
				s := bm.Elapsed().Seconds() / float64(bm.N)
				gflops := 2 * float64(n) * float64(n) * float64(n) / s / 1e9
				bm.ReportMetric(gflops, "GFLOP/s")
				bm.ReportMetric(100*gflops/(fp32PeakTFLOPS()*1000), "%peak")
			})
		}
	}
}

// BenchmarkGemmHost is accel.Backend's Gemm on host slices (transfers
// included), the path ml uses today.
func BenchmarkGemmHost(bm *testing.B) {
	if emulated {
		bm.Skip("the emulator is not a performance model")
	}
	for _, n := range []int{1024, 2048} {
		bm.Run(fmt.Sprintf("n=%d", n), func(bm *testing.B) {
			b := openOrSkip(bm, DefaultOptions())
			r := rand.New(rand.NewPCG(2, uint64(n)))
			a, bb, c := randVals(r, n*n), randVals(r, n*n), make([]float32, n*n)
			b.Gemm(false, false, n, n, n, a, n, bb, n, c, n)
			bm.ResetTimer()
			for i := 0; i < bm.N; i++ {
				b.Gemm(false, false, n, n, n, a, n, bb, n, c, n)
			}
			bm.ReportMetric(2*float64(n)*float64(n)*float64(n)/(bm.Elapsed().Seconds()/float64(bm.N))/1e9, "GFLOP/s")
		})
	}
}
