//go:build cuda || cudaemu

package cuda

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/pouw/statehash"
)

// digestSets are lists of tensor sizes (in 4-byte values): empty, one
// value, leaf and chunk boundaries (262144 values = 1 MiB, 256 = one
// 1 KiB chunk, 16 = one 64-byte block), a size straddling a leaf by 12
// bytes, trees whose levels have odd node counts, and many small tensors
// (some empty) so that samples land on tensor boundaries.
func digestSets() [][]int {
	small := make([]int, 40)
	for i := range small {
		small[i] = i % 4
	}
	return [][]int{
		{},
		{0},
		{1},
		{16}, {17}, {255}, {256}, {257}, {768}, {1000}, {1280},
		{9400},   // 37 chunks: 10 nodes after the threads' merge, then 5, 3, 2, 1
		{262144}, // one full leaf
		{262147}, // a full leaf and one of 12 bytes
		{2*262144 + 37*256 + 5, 0, 3},
		{5, 0, 262144, 3, 262147, 1},
		small,
	}
}

// digestTensors allocates a device buffer of random 32-bit patterns per
// size and returns the buffers and their host bytes (little-endian).
func digestTensors(t testing.TB, b *Backend, r *rand.Rand, sizes []int) ([]*Buffer, [][]byte) {
	t.Helper()
	bufs := make([]*Buffer, len(sizes))
	data := make([][]byte, len(sizes))
	for i, n := range sizes {
		v := make([]int32, n)
		data[i] = make([]byte, 4*n)
		for j := range v {
			v[j] = int32(r.Uint32())
			binary.LittleEndian.PutUint32(data[i][4*j:], uint32(v[j]))
		}
		bufs[i] = mustInt32Buf(t, b, v)
	}
	return bufs, data
}

// hostSample is what the CPU computes: the values at pouw.SamplePositions
// over the concatenated data, as little-endian bytes (nil when empty).
func hostSample(data [][]byte, prev pouw.Hash, stream int) []byte {
	all := []byte{}
	for _, d := range data {
		all = append(all, d...)
	}
	n := uint64(len(all) / 4)
	if n == 0 {
		return nil
	}
	pos := make([]uint64, pouw.SampleCount)
	pouw.SamplePositions(prev, stream, n, pos)
	out := make([]byte, 0, 4*len(pos))
	for _, p := range pos {
		out = append(out, all[4*p:4*p+4]...)
	}
	return out
}

// digestPrevs: all zeros, all ones and random digests.
func digestPrevs(r *rand.Rand) []pouw.Hash {
	prevs := make([]pouw.Hash, 6)
	for i := range prevs {
		for j := range prevs[i] {
			switch i {
			case 0:
			case 1:
				prevs[i][j] = 0xff
			default:
				prevs[i][j] = byte(r.Uint32())
			}
		}
	}
	return prevs
}

func TestSampleValues(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(71, 72))
	prevs := digestPrevs(r)
	for _, sizes := range digestSets() {
		bufs, data := digestTensors(t, b, r, sizes)
		total := 0
		for _, n := range sizes {
			total += n
		}
		for pi, prev := range prevs {
			for _, stream := range []int{pouw.SampleWeights, pouw.SampleGrads} {
				what := fmt.Sprintf("sizes %v prev %d stream %d", short(sizes), pi, stream)
				got, err := b.SampleValues(bufs, prev, stream)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				want := hostSample(data, prev, stream)
				if string(got) != string(want) || (got == nil) != (want == nil) {
					t.Fatalf("%s: device sample\n%x\nwant\n%x", what, got, want)
				}
				// The bytes are what pouw's sample hashes accept.
				if _, err := pouw.WeightSample(uint64(total), got); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
		}
	}
	// The same buffer twice, and a view at an odd offset.
	bufs, data := digestTensors(t, b, r, []int{1001})
	view := bufs[0].Slice(3, 997)
	got, err := b.SampleValues([]*Buffer{bufs[0], view, bufs[0]}, prevs[3], pouw.SampleGrads)
	if err != nil {
		t.Fatal(err)
	}
	if want := hostSample([][]byte{data[0], data[0][12 : 12+4*997], data[0]}, prevs[3], pouw.SampleGrads); string(got) != string(want) {
		t.Fatalf("views: device sample\n%x\nwant\n%x", got, want)
	}
}

func TestSampleValuesErrors(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	x := mustBuf(t, b, make([]float32, 10))
	for _, c := range []struct {
		bufs   []*Buffer
		stream int
		want   string
	}{
		{[]*Buffer{x}, 2, "stream 2, expected 0"},
		{[]*Buffer{x}, -1, "stream -1"},
		{[]*Buffer{x, nil}, 0, "tensor 1 is nil"},
	} {
		if _, err := b.SampleValues(c.bufs, pouw.Hash{}, c.stream); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SampleValues(stream %d) = %v, want an error containing %q", c.stream, err, c.want)
		}
	}
	b2 := openOrSkip(t, DefaultOptions())
	if _, err := b2.SampleValues([]*Buffer{x}, pouw.Hash{}, 0); err == nil || !strings.Contains(err.Error(), "another backend") {
		t.Errorf("SampleValues of another backend's buffer = %v", err)
	}
	if _, err := b.SampleValues([]*Buffer{x}, pouw.Hash{1}, 0); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.Memory(); s.Used != 40 {
		t.Errorf("%d bytes in use after SampleValues, want 40 (the argument buffer must be freed)", s.Used)
	}
}

func short(sizes []int) string {
	if len(sizes) > 8 {
		return fmt.Sprintf("%v... (%d tensors)", sizes[:8], len(sizes))
	}
	return fmt.Sprint(sizes)
}

func digestState(sizes []int, bufs []*Buffer, data [][]byte) ([]DeviceTensor, []statehash.Tensor) {
	dts := make([]DeviceTensor, len(sizes))
	ts := make([]statehash.Tensor, len(sizes))
	for i, n := range sizes {
		// Shapes of rank 0 to 2 (rank 0 only for one value).
		shape := []int{n}
		switch {
		case n == 1 && i%2 == 0:
			shape = []int{}
		case n%4 == 0 && n > 0:
			shape = []int{4, n / 4}
		}
		name := fmt.Sprintf("layer%d.weight", i)
		dts[i] = DeviceTensor{Name: name, Shape: shape, Buf: bufs[i]}
		ts[i] = statehash.Tensor{Name: name, Shape: shape, Data: data[i]}
	}
	return dts, ts
}

func TestStateHash(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(73, 74))
	for _, sizes := range digestSets() {
		bufs, data := digestTensors(t, b, r, sizes)
		dts, ts := digestState(sizes, bufs, data)
		for _, domain := range []string{statehash.WeightsDomain, statehash.OptimDomain} {
			got, err := b.StateHash(domain, dts)
			if err != nil {
				t.Fatalf("sizes %v %s: %v", short(sizes), domain, err)
			}
			if want := statehash.Sum(domain, ts, 0); got != want {
				t.Fatalf("sizes %v %s: device state hash %x, want %x", short(sizes), domain, got, want)
			}
		}
	}
}

// TestStateHashFlip changes one byte of a tensor on the device: the state
// hash changes, and is again statehash.Sum of the changed data.
func TestStateHashFlip(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(75, 76))
	sizes := []int{3, 262147, 100}
	bufs, data := digestTensors(t, b, r, sizes)
	dts, ts := digestState(sizes, bufs, data)
	before, err := b.StateHash(statehash.WeightsDomain, dts)
	if err != nil {
		t.Fatal(err)
	}
	if want := statehash.Sum(statehash.WeightsDomain, ts, 0); before != want {
		t.Fatalf("state hash %x, want %x", before, want)
	}
	seen := map[pouw.Hash]bool{before: true}
	for _, at := range []struct{ tensor, byteIdx int }{{1, 0}, {1, 4*262144 - 1}, {1, 4*262144 + 7}, {1, 123457}, {0, 11}, {2, 200}} {
		d := data[at.tensor]
		d[at.byteIdx] ^= 0x10
		v := int32(binary.LittleEndian.Uint32(d[at.byteIdx&^3:]))
		if err := bufs[at.tensor].Slice(at.byteIdx/4, 1).UploadInt32([]int32{v}); err != nil {
			t.Fatal(err)
		}
		got, err := b.StateHash(statehash.WeightsDomain, dts)
		if err != nil {
			t.Fatal(err)
		}
		if seen[got] {
			t.Fatalf("flipping byte %d of tensor %d gives a state hash seen before (%x)", at.byteIdx, at.tensor, got)
		}
		seen[got] = true
		if want := statehash.Sum(statehash.WeightsDomain, ts, 0); got != want {
			t.Fatalf("after flipping byte %d of tensor %d: state hash %x, want %x", at.byteIdx, at.tensor, got, want)
		}
	}
}

// TestStateHashViews hashes Slice views (4-byte aligned device addresses)
// and tensors without a buffer.
func TestStateHashViews(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(77, 78))
	bufs, data := digestTensors(t, b, r, []int{262144 + 300})
	dts := []DeviceTensor{
		{Name: "a", Shape: []int{262144 + 1}, Buf: bufs[0].Slice(1, 262144+1)},
		{Name: "empty", Shape: []int{0, 7}},
		{Name: "b", Shape: []int{3, 5}, Buf: bufs[0].Slice(7, 15)},
	}
	ts := []statehash.Tensor{
		{Name: "a", Shape: []int{262144 + 1}, Data: data[0][4 : 4+4*(262144+1)]},
		{Name: "empty", Shape: []int{0, 7}, Data: nil},
		{Name: "b", Shape: []int{3, 5}, Data: data[0][28 : 28+60]},
	}
	got, err := b.StateHash(statehash.OptimDomain, dts)
	if err != nil {
		t.Fatal(err)
	}
	if want := statehash.Sum(statehash.OptimDomain, ts, 0); got != want {
		t.Fatalf("views: state hash %x, want %x", got, want)
	}
	if got, want := mustStateHash(t, b, nil), statehash.Sum(statehash.WeightsDomain, nil, 0); got != want {
		t.Fatalf("no tensors: state hash %x, want %x", got, want)
	}
}

func mustStateHash(t *testing.T, b *Backend, dts []DeviceTensor) pouw.Hash {
	t.Helper()
	h, err := b.StateHash(statehash.WeightsDomain, dts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestBlake3LeavesBytes launches the leaf kernel directly at byte offsets
// and lengths that are not multiples of 4 (its byte-wise load path): every
// leaf must be statehash.Leaf of its bytes.
func TestBlake3LeavesBytes(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(79, 80))
	bufs, data := digestTensors(t, b, r, []int{262144 + 1000})
	out := mustBuf(t, b, make([]float32, 8*2))
	for _, c := range []struct{ off, n int }{{1, 1}, {3, 63}, {2, 1025}, {1, 4097}, {5, 1<<20 + 3}, {0, 1<<20 + 3997}} {
		nl := statehash.Leaves(c.n)
		if err := b.launch(kBlake3Leaves, [3]uint32{uint32(nl), 1, 1}, block1,
			args().u64(uint64(bufs[0].ptr)+uint64(c.off)).i64(c.n).buf(out)); err != nil {
			t.Fatal(err)
		}
		words := make([]int32, 8*nl)
		if err := out.DownloadInt32(words); err != nil {
			t.Fatal(err)
		}
		got := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), 32*nl) // little-endian host
		d := data[0][c.off : c.off+c.n]
		for l := 0; l < nl; l++ {
			want := statehash.Leaf(d[l*statehash.LeafBytes : min((l+1)*statehash.LeafBytes, len(d))])
			if string(got[32*l:32*l+32]) != string(want[:]) {
				t.Fatalf("offset %d, %d bytes, leaf %d: %x, want %x", c.off, c.n, l, got[32*l:32*l+32], want)
			}
		}
	}
}

func TestStateHashErrors(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	x := mustBuf(t, b, make([]float32, 12))
	for _, c := range []struct {
		dts  []DeviceTensor
		want string
	}{
		{[]DeviceTensor{{Name: "w", Shape: []int{3, 5}, Buf: x}}, `tensor "w" of shape [3 5] has 12 values on the device, expected 15`},
		{[]DeviceTensor{{Name: "w", Shape: []int{3}}}, `tensor "w" is nil`},
		{[]DeviceTensor{{Name: "w", Shape: []int{-1, 2}, Buf: x}}, "expected dimensions in [0, 2^32)"},
		{[]DeviceTensor{{Name: "w", Shape: []int{0}, Buf: x}}, "has 12 values on the device, expected 0"},
	} {
		if _, err := b.StateHash(statehash.WeightsDomain, c.dts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("StateHash = %v, want an error containing %q", err, c.want)
		}
	}
}

// BenchmarkStateHash measures StateHash over device-resident tensors
// (leaf kernels, the 32-byte-per-MiB download and the host's combination)
// in GB/s of tensor data. On the emulator the figure means nothing; on a
// GPU it is the one to report. BenchmarkStateHashCPU is statehash.Sum on
// the host's cores over the same sizes, for comparison.
func BenchmarkStateHash(bm *testing.B) {
	for _, mib := range stateHashBenchMiB() {
		bm.Run(fmt.Sprintf("MiB=%d", mib), func(bm *testing.B) {
			b := openOrSkip(bm, DefaultOptions())
			dts, _ := benchState(bm, b, mib, false)
			run := func() {
				if _, err := b.StateHash(statehash.WeightsDomain, dts); err != nil {
					bm.Fatal(err)
				}
			}
			run() // warm-up (JIT, clocks)
			bm.SetBytes(int64(mib) << 20)
			bm.ResetTimer()
			for i := 0; i < bm.N; i++ {
				run()
			}
			bm.ReportMetric(float64(mib<<20)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

func BenchmarkStateHashCPU(bm *testing.B) {
	for _, mib := range stateHashBenchMiB() {
		bm.Run(fmt.Sprintf("MiB=%d", mib), func(bm *testing.B) {
			_, ts := benchState(bm, nil, mib, true)
			bm.SetBytes(int64(mib) << 20)
			bm.ResetTimer()
			for i := 0; i < bm.N; i++ {
				statehash.Sum(statehash.WeightsDomain, ts, 0)
			}
			bm.ReportMetric(float64(mib<<20)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

func stateHashBenchMiB() []int {
	if emulated {
		return []int{4}
	}
	return []int{64, 1024}
}

// benchState is a model-like state of mib MiB: a few large tensors, many
// small ones. With b it is on the device, with host the data is returned.
func benchState(bm *testing.B, b *Backend, mib int, host bool) ([]DeviceTensor, []statehash.Tensor) {
	total := mib << 20 / 4
	var sizes []int
	for left := total; left > 0; {
		n := min(left, max(total/4, 1))
		if len(sizes)%2 == 1 {
			n = min(left, 1000+len(sizes))
		}
		sizes = append(sizes, n)
		left -= n
	}
	r := rand.New(rand.NewPCG(81, uint64(mib)))
	var dts []DeviceTensor
	var ts []statehash.Tensor
	for i, n := range sizes {
		d := make([]int32, n)
		for j := range d {
			d[j] = int32(r.Uint32())
		}
		name := fmt.Sprintf("t%d", i)
		if host {
			ts = append(ts, statehash.Tensor{Name: name, Shape: []int{n}, Data: unsafe.Slice((*byte)(unsafe.Pointer(&d[0])), 4*n)})
		} else {
			dts = append(dts, DeviceTensor{Name: name, Shape: []int{n}, Buf: mustInt32Buf(bm, b, d)})
		}
	}
	return dts, ts
}
