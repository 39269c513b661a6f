package canon

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var updateHalf = flag.Bool("update-half", false, "rewrite testdata/half_vectors.txt")

// halfFormat describes a half-precision format for the reference
// implementation, which works from the format's definition only: the value
// of every positive finite bit pattern, computed with math/big from the
// sign/exponent/fraction fields, and exact big.Float comparisons.
type halfFormat struct {
	name       string
	expBits    int // 8 or 5
	fracBits   int // 7 or 10
	bias       int
	canonNaN   uint16
	narrow     func(float32) uint16
	widen      func(uint16) float32
	values     []float64 // values[i] = value of positive pattern i, i = 0..inf (inf: 2^(emax+1), the overflow sentinel)
	infPattern uint16
}

func newFormat(name string, expBits, fracBits int, canonNaN uint16, narrow func(float32) uint16, widen func(uint16) float32) *halfFormat {
	f := &halfFormat{name: name, expBits: expBits, fracBits: fracBits, bias: 1<<(expBits-1) - 1, canonNaN: canonNaN, narrow: narrow, widen: widen}
	f.infPattern = uint16((1<<expBits - 1) << fracBits)
	for i := 0; i <= int(f.infPattern); i++ {
		e := i >> fracBits
		m := int64(i & (1<<fracBits - 1))
		v := new(big.Float).SetPrec(200)
		if e == 0 {
			v.SetMantExp(big.NewFloat(float64(m)), 1-f.bias-fracBits) // m·2^(1-bias-fracBits)
		} else {
			v.SetMantExp(big.NewFloat(float64(m+1<<fracBits)), e-f.bias-fracBits)
		}
		x, acc := v.Float64()
		if acc != big.Exact {
			panic("half value not exact in float64")
		}
		f.values = append(f.values, x)
	}
	return f
}

var (
	fmtOnce      sync.Once
	bf16F, fp16F *halfFormat
)

func formats() []*halfFormat {
	fmtOnce.Do(func() {
		bf16F = newFormat("bf16", 8, 7, BF16NaN, F32ToBF16, BF16ToF32)
		fp16F = newFormat("fp16", 5, 10, FP16NaN, F32ToFP16, FP16ToF32)
	})
	return []*halfFormat{bf16F, fp16F}
}

// ref rounds x to the format by searching the table of values and deciding
// between the two neighbours with exact big.Float arithmetic; ties go to
// the even pattern (the overflow sentinel counts as even, so a tie at the
// top goes to Inf, as IEEE-754 says).
func (f *halfFormat) ref(x float32) uint16 {
	if x != x {
		return f.canonNaN
	}
	var sign uint16
	if math.Signbit(float64(x)) {
		sign = 0x8000
	}
	a := math.Abs(float64(x))
	top := f.values[f.infPattern]
	if a >= top {
		return sign | f.infPattern
	}
	// Largest i with values[i] <= a.
	i := sort.Search(len(f.values), func(k int) bool { return f.values[k] > a }) - 1
	if f.values[i] == a {
		return sign | uint16(i)
	}
	ab := new(big.Float).SetPrec(400).SetFloat64(a)
	lo := new(big.Float).SetPrec(400).SetFloat64(f.values[i])
	hi := new(big.Float).SetPrec(400).SetFloat64(f.values[i+1])
	dlo := new(big.Float).SetPrec(400).Sub(ab, lo)
	dhi := new(big.Float).SetPrec(400).Sub(hi, ab)
	switch dlo.Cmp(dhi) {
	case -1:
		return sign | uint16(i)
	case 1:
		return sign | uint16(i+1)
	}
	if i%2 == 0 {
		return sign | uint16(i)
	}
	return sign | uint16(i+1)
}

func (f *halfFormat) check(t *testing.T, x float32) {
	t.Helper()
	if got, want := f.narrow(x), f.ref(x); got != want {
		t.Fatalf("%s: narrow(%g = %#08x) = %#04x, reference %#04x", f.name, x, math.Float32bits(x), got, want)
	}
}

// TestHalfWidenExhaustive checks every one of the 2^16 patterns of each
// format: widening equals the value from the format's definition, and
// narrowing the widened value gives the pattern back (NaNs: the canonical
// NaN).
func TestHalfWidenExhaustive(t *testing.T) {
	for _, f := range formats() {
		for h := 0; h < 1<<16; h++ {
			x := f.widen(uint16(h))
			a := uint16(h) & 0x7fff
			if a > f.infPattern {
				if x == x {
					t.Fatalf("%s: widen(%#04x) = %g, want NaN", f.name, h, x)
				}
				if got := f.narrow(x); got != f.canonNaN {
					t.Fatalf("%s: narrow(widen(NaN %#04x)) = %#04x, want canonical %#04x", f.name, h, got, f.canonNaN)
				}
				continue
			}
			want := f.values[a]
			if a == f.infPattern {
				want = math.Inf(1)
			}
			if h&0x8000 != 0 {
				want = -want
			}
			if float64(x) != want || math.Signbit(float64(x)) != (h&0x8000 != 0) {
				t.Fatalf("%s: widen(%#04x) = %g, definition %g", f.name, h, x, want)
			}
			if got := f.narrow(x); got != uint16(h) {
				t.Fatalf("%s: narrow(widen(%#04x)) = %#04x", f.name, h, got)
			}
		}
	}
}

// TestHalfNarrowAgainstReference compares narrowing with the reference at
// every rounding boundary (each half value, the midpoint to its successor,
// and their float32 neighbours, both signs), on a stride over all float32
// patterns, on random patterns and on special values.
func TestHalfNarrowAgainstReference(t *testing.T) {
	next := func(x float32, d int) float32 {
		b := int64(math.Float32bits(x)) + int64(d)
		if b < 0 || b > 0x7f800000 {
			return x
		}
		return math.Float32frombits(uint32(b))
	}
	for _, f := range formats() {
		n := 0
		for i := 0; i < int(f.infPattern); i++ {
			v := float32(f.values[i])
			mid := float32((f.values[i] + f.values[i+1]) / 2) // exact: 2 more bits than the format
			if float64(mid) != (f.values[i]+f.values[i+1])/2 {
				t.Fatalf("%s: midpoint above pattern %#04x is not a float32", f.name, i)
			}
			for _, x := range []float32{v, next(v, 1), next(v, -1), mid, next(mid, 1), next(mid, -1), next(mid, 2), next(mid, -2)} {
				f.check(t, x)
				f.check(t, -x)
				n += 2
			}
		}
		for b := uint64(0); b < 1<<32; b += 4093 {
			f.check(t, math.Float32frombits(uint32(b)))
			n++
		}
		r := rand.New(rand.NewPCG(7, 11))
		for k := 0; k < 200000; k++ {
			f.check(t, math.Float32frombits(r.Uint32()))
			n++
		}
		for _, b := range []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff, 1, 0x80000001, 0x007fffff, 0x00800000,
			0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fbfffff, 0x7fffffff, 0xffffffff, 0x7fa12345,
			0x477fe000, 0x477fefff, 0x477ff000, 0x477ff001, 0x47800000, 0x38800000, 0x387fffff, 0x33000000, 0x33000001, 0x337fffff, 0x33800000} {
			f.check(t, math.Float32frombits(b))
			n++
		}
		t.Logf("%s: %d inputs agree with the reference", f.name, n)
	}
}

// TestHalfTiesToEven spells out tie cases by hand.
func TestHalfTiesToEven(t *testing.T) {
	for _, c := range []struct {
		x    float32
		bf16 uint16
		fp16 uint16
	}{
		{1, 0x3f80, 0x3c00},
		{1 + 1.0/256, 0x3f80, 0x3c04},                      // bf16 tie between 1 and 1+2^-7: even 1
		{1 + 3.0/256, 0x3f82, 0x3c0c},                      // bf16 tie between 1+2^-7 (odd) and 1+2^-6: even
		{1 + 1.0/2048, 0x3f80, 0x3c00},                     // fp16 tie between 1 and 1+2^-10: even 1
		{1 + 3.0/2048, 0x3f80, 0x3c02},                     // fp16 tie, odd below: up
		{65504, 0x4780, 0x7bff},                            // fp16 max
		{math.Float32frombits(0x477fefff), 0x4780, 0x7bff}, // below the fp16 overflow midpoint
		{65520, 0x4780, 0x7c00},                            // the midpoint: tie to even = Inf
		{-65520, 0xc780, 0xfc00},                           //
		{0x1p-24, 0x3380, 0x0001},                          // smallest fp16 subnormal
		{0x1p-25, 0x3300, 0x0000},                          // tie between 0 and 2^-24: 0
		{0x1.8p-24, 0x33c0, 0x0002},                        // tie between 1 and 2 (units of 2^-24): 2
		{0x1.4p-24, 0x33a0, 0x0001},                        // 1.25 units: 1
		{-0x1p-26, 0xb280, 0x8000},                         // -0
		{0x1.ffcp-15, 0x3880, 0x0400},                      // rounds up into the smallest fp16 normal
		{float32(math.Inf(1)), 0x7f80, 0x7c00},
		{float32(math.Inf(-1)), 0xff80, 0xfc00},
		{math.Float32frombits(0x7f7fffff), 0x7f80, 0x7c00}, // float32 max: bf16 overflows (rounds up)
		{math.Float32frombits(0x7f7f7fff), 0x7f7f, 0x7c00}, // just below the bf16 overflow midpoint
		{math.Float32frombits(0x7f7f8000), 0x7f80, 0x7c00}, // the bf16 overflow midpoint: Inf
		{math.Float32frombits(0x00008000), 0x0000, 0x0000}, // float32 subnormal tie in bf16: even 0
		{math.Float32frombits(0x00018000), 0x0002, 0x0000}, // tie, odd below: up
		{math.Float32frombits(0xffc00001), BF16NaN, FP16NaN},
		{math.Float32frombits(0x7f800001), BF16NaN, FP16NaN}, // signalling NaN: canonical quiet
	} {
		if got := F32ToBF16(c.x); got != c.bf16 {
			t.Errorf("F32ToBF16(%g = %#08x) = %#04x, want %#04x", c.x, math.Float32bits(c.x), got, c.bf16)
		}
		if got := F32ToFP16(c.x); got != c.fp16 {
			t.Errorf("F32ToFP16(%g = %#08x) = %#04x, want %#04x", c.x, math.Float32bits(c.x), got, c.fp16)
		}
	}
	if b := math.Float32bits(RoundBF16(float32(math.NaN()))); b != F32NaN {
		t.Errorf("RoundBF16(NaN) = %#08x, want %#08x", b, F32NaN)
	}
	if b := math.Float32bits(RoundFP16(math.Float32frombits(0xff812345))); b != F32NaN {
		t.Errorf("RoundFP16(NaN) = %#08x, want %#08x", b, F32NaN)
	}
}

// TestHalfMonotone runs over float32 patterns in order (all of
// them with POUWD_HALF_EXHAUSTIVE=1, see below): narrowing is
// odd-symmetric (narrow(-x) = narrow(x) | sign) and nondecreasing in x over
// the non-negative values, every NaN gives the canonical NaN, RoundBF16
// and RoundFP16 (written on their own) equal widen(narrow(x)), and the
// slice versions (the AVX2 loops on amd64) equal the scalar functions. A nondecreasing function that agrees
// with the reference on both sides of every rounding midpoint (see
// TestHalfNarrowAgainstReference) agrees with it everywhere, so together
// the two tests check every input the run covers (all 2^32 in the
// exhaustive run).
func TestHalfMonotone(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive over 2^32 inputs; -short skips it")
	}
	// Chunk c is the positive patterns [c·2^23, (c+1)·2^23): one float32
	// binade. By default the test covers the binades where fp16 results
	// are finite and nonzero (0x66..0x8f, all of fp16's rounding), the
	// float32 subnormals, the top binades with Inf and NaN, and every 16th
	// binade (bf16 rounding does not depend on the exponent); it takes
	// about a minute on two cores for all of them, which
	// POUWD_HALF_EXHAUSTIVE=1 asks for.
	const chunks = 256
	all := os.Getenv("POUWD_HALF_EXHAUSTIVE") == "1"
	workers := min(runtime.GOMAXPROCS(0), 4)
	var (
		mu   sync.Mutex
		errs []string
		wg   sync.WaitGroup
		work = make(chan uint32, chunks)
	)
	for c := uint32(0); c < chunks; c++ {
		if all || c >= 0x66 && c <= 0x8f || c%16 == 0 || c >= 0xfe {
			work <- c
		}
	}
	close(work)
	fail := func(format string, a ...any) {
		mu.Lock()
		if len(errs) < 10 {
			errs = append(errs, fmt.Sprintf(format, a...))
		}
		mu.Unlock()
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				lo := c << 23 // positive patterns [lo, lo + 2^23)
				pb, pf := F32ToBF16(math.Float32frombits(lo)), F32ToFP16(math.Float32frombits(lo))
				if lo > 0 {
					pb, pf = F32ToBF16(math.Float32frombits(lo-1)), F32ToFP16(math.Float32frombits(lo-1))
				}
				const block = 4096
				in := make([]float32, block)
				vb, vf := make([]float32, block), make([]float32, block)
				for b := lo; b < lo+1<<23; b++ {
					if k := b % block; k == 0 {
						for i := range in {
							in[i] = math.Float32frombits(b + uint32(i))
						}
						RoundBF16Slice(vb, in)
						RoundFP16Slice(vf, in)
					}
					x := math.Float32frombits(b)
					hb, hf := F32ToBF16(x), F32ToFP16(x)
					nb, nf := F32ToBF16(-x), F32ToFP16(-x)
					rb, rf := RoundBF16(x), RoundFP16(x)
					if k := b % block; math.Float32bits(vb[k]) != math.Float32bits(rb) || math.Float32bits(vf[k]) != math.Float32bits(rf) {
						fail("slice rounding at %#08x: %#08x %#08x, scalar %#08x %#08x", b,
							math.Float32bits(vb[k]), math.Float32bits(vf[k]), math.Float32bits(rb), math.Float32bits(rf))
					}
					if b > 0x7f800000 {
						if hb != BF16NaN || hf != FP16NaN || nb != BF16NaN || nf != FP16NaN ||
							math.Float32bits(rb) != F32NaN || math.Float32bits(rf) != F32NaN {
							fail("NaN %#08x: bf16 %#04x/%#04x fp16 %#04x/%#04x", b, hb, nb, hf, nf)
						}
						continue
					}
					if hb < pb || hf < pf {
						fail("not monotone at %#08x: bf16 %#04x after %#04x, fp16 %#04x after %#04x", b, hb, pb, hf, pf)
					}
					if nb != hb|0x8000 || nf != hf|0x8000 {
						fail("not symmetric at %#08x", b)
					}
					if math.Float32bits(rb) != uint32(hb)<<16 || math.Float32bits(rf) != math.Float32bits(FP16ToF32(hf)) ||
						math.Float32bits(RoundFP16(-x)) != math.Float32bits(FP16ToF32(nf)) {
						fail("Round at %#08x: %g %g", b, rb, rf)
					}
					pb, pf = hb, hf
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
}

// halfDigest is SHA-256 over (u16 bf16, u16 fp16) little-endian of every
// float32 pattern k·251, k = 0, 1, ... below 2^32.
func halfDigest() string {
	h := sha256.New()
	buf := make([]byte, 0, 4<<16)
	for b := uint64(0); b < 1<<32; b += 251 {
		x := math.Float32frombits(uint32(b))
		buf = binary.LittleEndian.AppendUint16(buf, F32ToBF16(x))
		buf = binary.LittleEndian.AppendUint16(buf, F32ToFP16(x))
		if len(buf) == cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// goldenInputs are the float32 patterns of testdata/half_vectors.txt: the
// special cases, and a fixed pseudo-random set.
func goldenInputs() []uint32 {
	in := []uint32{0, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fffffff,
		0x7f7fffff, 0x7f7f7fff, 0x7f7f8000, 0x00000001, 0x00008000, 0x00018000, 0x007fffff, 0x00800000,
		0x477fe000, 0x477fefff, 0x477ff000, 0x47800000, 0x38800000, 0x387fc000, 0x387fe000, 0x33000000, 0x33000001, 0x33800000,
		0x3f808000, 0x3f818000, 0x3f801000, 0x3f803000, 0x40490fdb, 0xc0490fdb}
	r := rand.New(rand.NewPCG(2024, 7))
	for len(in) < 1024 {
		switch len(in) % 4 {
		case 0: // anywhere
			in = append(in, r.Uint32())
		case 1: // the fp16 range
			in = append(in, r.Uint32N(0x477ff000-0x33000000)+0x33000000|r.Uint32()&0x80000000)
		case 2: // near a bf16 tie
			in = append(in, r.Uint32()&0xffff0000|0x8000+r.Uint32N(3)-1)
		default: // near an fp16 tie
			in = append(in, (r.Uint32N(0x477ff000-0x38800000)+0x38800000)&^0x1fff|0x1000+r.Uint32N(3)-1)
		}
	}
	return in
}

// TestHalfGoldenVectors checks the committed vectors (inputs, bf16 and fp16
// patterns) and the digest over a stride of all inputs: the bits a CUDA
// kernel or an assembly fast path must reproduce. -update-half rewrites
// the file (after the reference tests pass).
func TestHalfGoldenVectors(t *testing.T) {
	const path = "testdata/half_vectors.txt"
	if *updateHalf {
		var sb strings.Builder
		sb.WriteString("# Canonical float32 -> bfloat16 / binary16 conversions (accel/canon.F32ToBF16, F32ToFP16).\n")
		sb.WriteString("# Columns: float32 bits, bf16 bits, fp16 bits (hex). Regenerate: go test ./accel/canon -run TestHalfGoldenVectors -update-half\n")
		for _, b := range goldenInputs() {
			x := math.Float32frombits(b)
			fmt.Fprintf(&sb, "%08x %04x %04x\n", b, F32ToBF16(x), F32ToFP16(x))
		}
		fmt.Fprintf(&sb, "digest-stride-251 %s\n", halfDigest())
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		f := strings.Fields(line)
		if f[0] == "digest-stride-251" {
			if got := halfDigest(); got != f[1] {
				t.Errorf("digest over the stride-251 inputs: %s, golden %s", got, f[1])
			}
			continue
		}
		b, err1 := strconv.ParseUint(f[0], 16, 32)
		wb, err2 := strconv.ParseUint(f[1], 16, 16)
		wf, err3 := strconv.ParseUint(f[2], 16, 16)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad line %q", line)
		}
		x := math.Float32frombits(uint32(b))
		if got := F32ToBF16(x); got != uint16(wb) {
			t.Errorf("F32ToBF16(%#08x) = %#04x, golden %#04x", b, got, wb)
		}
		if got := F32ToFP16(x); got != uint16(wf) {
			t.Errorf("F32ToFP16(%#08x) = %#04x, golden %#04x", b, got, wf)
		}
		for _, ff := range formats() {
			ff.check(t, x)
		}
		n++
	}
	if n < 1000 {
		t.Fatalf("%d golden vectors, expected 1024", n)
	}
}

func TestHalfSlices(t *testing.T) {
	src := []float32{0, -1.5, 3.14159, 65519, 70000, 1e-7, float32(math.NaN())}
	hb := make([]uint16, len(src))
	hf := make([]uint16, len(src))
	F32ToBF16Slice(hb, src)
	F32ToFP16Slice(hf, src)
	wb := make([]float32, len(src))
	wf := make([]float32, len(src))
	BF16ToF32Slice(wb, hb)
	FP16ToF32Slice(wf, hf)
	rb := append([]float32(nil), src...)
	rf := append([]float32(nil), src...)
	RoundBF16Slice(rb, rb)
	RoundFP16Slice(rf, rf)
	for i, x := range src {
		if hb[i] != F32ToBF16(x) || hf[i] != F32ToFP16(x) ||
			math.Float32bits(wb[i]) != math.Float32bits(rb[i]) || math.Float32bits(wf[i]) != math.Float32bits(rf[i]) ||
			math.Float32bits(rb[i]) != math.Float32bits(RoundBF16(x)) || math.Float32bits(rf[i]) != math.Float32bits(RoundFP16(x)) {
			t.Errorf("slice conversions disagree with the scalar ones at %g", x)
		}
	}
}

// TestHalfRoundSlicesMatchScalar: the slice loops (written apart from the
// scalar functions for speed) give the scalar bits on random patterns, the
// neighbourhood of every fp16 and bf16 range boundary and specials.
func TestHalfRoundSlicesMatchScalar(t *testing.T) {
	var in []float32
	r := rand.New(rand.NewPCG(5, 6))
	for k := 0; k < 1<<20; k++ {
		in = append(in, math.Float32frombits(r.Uint32()))
	}
	for _, b := range []uint32{0, 0x7f800000, 0x7f7fffff, 0x38800000, 0x477ff000, 0x33000000, 0x00800000} {
		for d := uint32(0); d < 64; d++ {
			for _, s := range []uint32{0, 0x80000000} {
				in = append(in, math.Float32frombits((b+d)|s), math.Float32frombits((b-d)|s))
			}
		}
	}
	for b := uint64(0x7f800000); b < 0x80000000; b += 4099 { // NaNs
		in = append(in, math.Float32frombits(uint32(b)), math.Float32frombits(uint32(b)|0x80000000))
	}
	rb := make([]float32, len(in))
	rf := make([]float32, len(in))
	RoundBF16Slice(rb, in)
	RoundFP16Slice(rf, in)
	for i, x := range in {
		if math.Float32bits(rb[i]) != math.Float32bits(RoundBF16(x)) || math.Float32bits(rf[i]) != math.Float32bits(RoundFP16(x)) {
			t.Fatalf("%#08x: slices give %#08x %#08x, scalars %#08x %#08x", math.Float32bits(x),
				math.Float32bits(rb[i]), math.Float32bits(rf[i]), math.Float32bits(RoundBF16(x)), math.Float32bits(RoundFP16(x)))
		}
	}
}

func BenchmarkRoundBF16Slice(b *testing.B) {
	x := make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i) * 0.37
	}
	b.SetBytes(4 << 16)
	for b.Loop() {
		RoundBF16Slice(x, x)
	}
}

func BenchmarkRoundFP16Slice(b *testing.B) {
	x := make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i) * 0.00037
	}
	b.SetBytes(4 << 16)
	for b.Loop() {
		RoundFP16Slice(x, x)
	}
}
