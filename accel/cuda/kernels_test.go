package cuda

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
)

// TestPTXEntries runs everywhere (no GPU, any build tag): every kernel the
// Go code launches must be an entry of exactly one embedded PTX module, and
// every entry must be one the Go code knows, so a typo or a kernel added on
// one side only fails here rather than on a GPU machine.
func TestPTXEntries(t *testing.T) {
	names, text := ptxModules()
	if len(names) == 0 {
		t.Fatal("no PTX embedded (run scripts/cuda-ptx.sh)")
	}
	where := map[string]string{}
	for _, n := range names {
		if !strings.Contains(text[n], ".target sm_80") {
			t.Errorf("%s: not compiled for compute_80", n)
		}
		for _, e := range ptxEntries(text[n]) {
			if prev, dup := where[e]; dup {
				t.Errorf("entry %s in both %s and %s", e, prev, n)
			}
			where[e] = n
		}
	}
	known := map[string]bool{}
	for k, name := range kernelNames {
		if name == "" {
			t.Errorf("kernel %d has no name", k)
			continue
		}
		known[name] = true
		if where[name] == "" {
			t.Errorf("kernel %s is launched by the Go code but is not in the PTX", name)
		}
	}
	for e, n := range where {
		if !known[e] {
			t.Errorf("%s: entry %s has no kernel constant in kernels.go", n, e)
		}
	}
}

// TestPTXArithmetic checks the instructions nvcc emitted: only correctly
// rounded IEEE arithmetic with subnormals (no .ftz, no approximations, no
// tensor-core or TF32 instructions), no contracted double-precision FMA,
// and single-precision FMA only in the GEMM, where the canonical chain is
// made of FMAs.
func TestPTXArithmetic(t *testing.T) {
	forbidden := regexp.MustCompile(`(?m)^\s+(\S*\.ftz\S*|\S*\.approx\S*|ex2\.\S+|lg2\.\S+|rcp\.\S+|rsqrt\.\S+|sin\.\S+|cos\.\S+|tanh\.\S+|mad\.\S*f(32|64)\S*|fma\.\S*f64|\S*\.sat\.f\S*|w?mma\.\S+|\S*\.tf32\S*|\S*\.bf16\S*|\S*\.f16\S*)\s`)
	fma32 := regexp.MustCompile(`(?m)^\s+fma\.\S*f32\s`)
	names, text := ptxModules()
	for _, n := range names {
		if m := forbidden.FindAllString(text[n], 5); m != nil {
			t.Errorf("%s: forbidden instructions %q", n, m)
		}
		if n != "gemm.ptx" && fma32.MatchString(text[n]) {
			t.Errorf("%s: fma.f32 outside the GEMM (contracted a*b+c?)", n)
		}
	}
	if !fma32.MatchString(text["gemm.ptx"]) {
		t.Error("gemm.ptx has no fma.rn.f32")
	}
	// The digest kernels move floats as bit patterns and hash bytes:
	// integer instructions only.
	if m := regexp.MustCompile(`(?m)^\s+\S*\.f(16|32|64)\b.*$`).FindAllString(text["digest.ptx"], 3); m != nil {
		t.Errorf("digest.ptx: float instructions %q (the digest kernels are integer-only)", m)
	}
	if !strings.Contains(text["digest.ptx"], ".entry pouw_blake3_leaves(") {
		t.Error("digest.ptx has no pouw_blake3_leaves")
	}
}

// TestPTXCoefficients checks that every canon polynomial coefficient and
// constant reached the PTX as the exact float64 (immediates 0dXXXXXXXXXXXXXXXX).
func TestPTXCoefficients(t *testing.T) {
	tables, consts := canonConsts(t)
	_, text := ptxModules()
	ptx := text["elementwise.ptx"]
	check := func(what string, v float64) {
		lit := fmt.Sprintf("0d%016X", math.Float64bits(v))
		if !strings.Contains(ptx, lit) {
			t.Errorf("elementwise.ptx: %s = %v (%s) not found", what, v, lit)
		}
	}
	for _, name := range []string{"expCoef", "logCoef", "tanhCoef", "erfCoef"} {
		c := tables[name]
		if len(c) == 0 {
			t.Fatalf("accel/canon: table %s not found", name)
		}
		for i, v := range c {
			if v == 1 || v == 0.5 || v == 2 {
				continue // may be folded into another instruction form
			}
			check(fmt.Sprintf("%s[%d]", name, i), v)
		}
	}
	for _, name := range []string{"ln2Hi", "ln2Lo", "log2e", "ln2", "twoDSP"} { // the ones coef.cuh uses
		check(name, consts[name])
	}
	// canon.SinCos32 (transformer.cu's sinusoidal positions).
	ptx = text["transformer.ptx"]
	for _, name := range []string{"sinCoef", "cosCoef"} {
		c := tables[name]
		if len(c) == 0 {
			t.Fatalf("accel/canon: table %s not found", name)
		}
		for i, v := range c {
			if a := math.Abs(v); a == 1 || a == 0.5 || a == 2 {
				continue // may be folded into another instruction form
			}
			lit := fmt.Sprintf("0d%016X", math.Float64bits(v))
			if !strings.Contains(ptx, lit) {
				t.Errorf("transformer.ptx: %s[%d] = %v (%s) not found", name, i, v, lit)
			}
		}
	}
	for _, name := range []string{"twoOverPi", "pio2Hi", "pio2Mid", "pio2Lo"} {
		lit := fmt.Sprintf("0d%016X", math.Float64bits(consts[name]))
		if consts[name] == 0 || !strings.Contains(ptx, lit) {
			t.Errorf("transformer.ptx: %s = %v (%s) not found", name, consts[name], lit)
		}
	}
}
