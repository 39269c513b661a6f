package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randMat(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		switch r.IntN(50) {
		case 0:
			s[i] = math.Float32frombits(r.Uint32() & 0x807fffff) // subnormal
		case 1:
			s[i] = 0
		default:
			s[i] = float32(r.NormFloat64())
		}
	}
	return s
}

func allBackends(t testing.TB) []*Backend {
	t.Helper()
	var bs []*Backend
	for _, k := range append([]string{"go", "auto"}, Kernels()...) {
		for _, th := range []int{1, 2, 3} {
			b, err := New(Options{Threads: th, Kernel: k})
			if err != nil {
				t.Fatal(err)
			}
			bs = append(bs, b)
		}
	}
	return bs
}

// TestGemmMatchesReference checks every kernel and thread count bit for bit
// against GemmRef, over shapes that hit every edge of the tiling and the
// p-blocking.
func TestGemmMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	shapes := [][3]int{{1, 1, 1}, {1, 1, 0}, {3, 5, 7}, {8, 48, 16}, {9, 49, 257}, {17, 100, 513},
		{64, 256, 784}, {6, 16, 3}, {13, 31, 300}, {64, 10, 256}, {8, 784, 9}, {33, 1, 260}}
	for i := 0; i < 10; i++ {
		shapes = append(shapes, [3]int{1 + r.IntN(70), 1 + r.IntN(130), r.IntN(600)})
	}
	bs := allBackends(t)
	for _, sh := range shapes {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			ta, tb := tr[0], tr[1]
			lda, ldb := k+r.IntN(3), n+r.IntN(3)
			if ta {
				lda = m + r.IntN(3)
			}
			if tb {
				ldb = k + r.IntN(3)
			}
			ra, rb := m, k
			if ta {
				ra = k
			}
			if tb {
				rb = n
			}
			a := randMat(r, max(ra*lda, 1))
			b := randMat(r, max(rb*ldb, 1))
			ldc := n + r.IntN(3)
			want := make([]float32, m*ldc)
			GemmRef(ta, tb, m, n, k, a, lda, b, ldb, want, ldc)
			for _, be := range bs {
				got := make([]float32, m*ldc)
				for i := range got {
					got[i] = 42 // must be overwritten (k = 0 included)
				}
				be.Gemm(ta, tb, m, n, k, a, lda, b, ldb, got, ldc)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						g, w := got[i*ldc+j], want[i*ldc+j]
						if math.Float32bits(g) != math.Float32bits(w) {
							t.Fatalf("%s threads=%d m,n,k=%d,%d,%d tA=%v tB=%v: C[%d,%d] = %#x, reference %#x",
								be.Name(), be.Threads(), m, n, k, ta, tb, i, j, math.Float32bits(g), math.Float32bits(w))
						}
					}
				}
			}
		}
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, sh := range [][3]int{{1024, 1024, 1024}, {512, 128, 784}, {64, 256, 784}} {
		for _, k := range append([]string{"go"}, Kernels()...) {
			for _, th := range []int{1, 2} {
				be := MustNew(Options{Threads: th, Kernel: k})
				m, n, kk := sh[0], sh[1], sh[2]
				r := rand.New(rand.NewPCG(1, 1))
				A, B, C := normMat(r, m*kk), normMat(r, kk*n), make([]float32, m*n)
				b.Run(fmt.Sprintf("%dx%dx%d/%s/t%d", m, n, kk, k, th), func(b *testing.B) {
					for b.Loop() {
						be.Gemm(false, false, m, n, kk, A, kk, B, n, C, n)
					}
					b.ReportMetric(float64(2*m*n*kk)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// normMat has no subnormals: those cost microcode assists on x86 and are not
// what a benchmark should measure.
func normMat(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}
