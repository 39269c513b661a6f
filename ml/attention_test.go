package ml

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
)

// TestTransformerGradients checks every Transformer layer and an encoder
// layer's two residual blocks against finite differences.
func TestTransformerGradients(t *testing.T) {
	learned := &Positions{T: 3, D: 4, P: newParam("pos", 3, 4)}
	uniformInit(learned.P.T, 0.5, 1, 0)
	spec := TransformerSpec{Layers: 2, Dim: 4, Heads: 2, MLP: 2}
	idx := 0
	next := func() int { idx++; return idx }
	blocks := newEncoderBlock("b", spec, 0, 3, next)
	causal := spec
	causal.Causal = true
	cblocks := newEncoderBlock("c", causal, 0, 4, next)
	for _, tc := range []struct {
		name  string
		layer Layer
		x     *Tensor
		h     float64
	}{
		{"attention", &Attention{Heads: 2}, randInput(21, 2, 3, 12), 1e-2},
		{"attention/causal", &Attention{Heads: 2, Causal: true}, randInput(22, 2, 4, 12), 1e-2},
		{"attention/one-head", &Attention{Heads: 1}, randInput(23, 1, 5, 6), 1e-2},
		{"linear/tokens", newTokenLinear("fc", 4, 3, 0.3, 1, 0), randInput(24, 2, 3, 4), 1e-2},
		{"positions/learned", learned, randInput(25, 2, 3, 4), 1e-2},
		{"positions/sin", NewSinusoidalPositions(3, 4), randInput(26, 2, 3, 4), 1e-2},
		{"tokenpool/mean", &TokenPool{}, randInput(27, 2, 3, 4), 1e-2},
		{"tokenpool/last", &TokenPool{Last: true}, randInput(28, 2, 3, 4), 1e-2},
		{"patchtokens", &PatchTokens{}, randInput(29, 2, 3, 2, 2), 1e-2},
		{"encoder/attention", blocks[0], randInput(30, 2, 3, 4), 1e-3},
		{"encoder/mlp", blocks[1], randInput(31, 2, 3, 4), 1e-3},
		{"encoder/causal-attention", cblocks[0], randInput(32, 2, 3, 4), 1e-3},
	} {
		t.Run(tc.name, func(t *testing.T) { gradCheckStep(t, tc.name, tc.layer, tc.x, true, tc.h) })
	}
}

// TestAttentionCausalMask: with a causal mask a token's output does not
// depend on later tokens, and the probabilities of masked keys are +0.
func TestAttentionCausalMask(t *testing.T) {
	be := cpu.MustNew(cpu.Options{Threads: 1})
	a := &Attention{Heads: 2, Causal: true}
	x := randInput(40, 1, 5, 12)
	y0 := append([]float32(nil), a.Forward(&Ctx{Backend: be}, x).Data...)
	for i := 3 * 12; i < len(x.Data); i++ { // tokens 3 and 4
		x.Data[i] += 0.5
	}
	y1 := a.Forward(&Ctx{Backend: be}, x).Data
	for i := 0; i < 3*4; i++ { // outputs of tokens 0..2 (D = 4)
		if y0[i] != y1[i] {
			t.Fatalf("output %d changed when later tokens changed: %v -> %v", i, y0[i], y1[i])
		}
	}
	for p := 0; p < 2; p++ {
		for i := 0; i < 5; i++ {
			var s float64
			for j := 0; j < 5; j++ {
				v := a.probs[p*25+i*5+j]
				if j > i && (v != 0 || math.Signbit(float64(v))) {
					t.Fatalf("head %d: P[%d,%d] = %v, want +0", p, i, j, v)
				}
				s += float64(v)
			}
			if math.Abs(s-1) > 1e-6 {
				t.Fatalf("head %d row %d sums to %v", p, i, s)
			}
		}
	}
}

// TestAttentionThreads: the attention layer's output and gradients have
// the same bits on 1, 2 and 3 threads.
func TestAttentionThreads(t *testing.T) {
	run := func(th int) ([]float32, []float32) {
		be := cpu.MustNew(cpu.Options{Threads: th})
		a := &Attention{Heads: 4, Causal: true}
		x := randInput(41, 3, 7, 24)
		x.needGrad = true
		tape := &Tape{}
		y := a.Forward(&Ctx{Backend: be, Tape: tape}, x)
		g := randInput(42, y.Shape...).Data
		if err := tape.BackwardFrom(y, g); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), y.Data...), x.Grad
	}
	y1, g1 := run(1)
	for _, th := range []int{2, 3} {
		y, g := run(th)
		for i := range y1 {
			if math.Float32bits(y[i]) != math.Float32bits(y1[i]) {
				t.Fatalf("%d threads: output %d = %v, 1 thread %v", th, i, y[i], y1[i])
			}
		}
		for i := range g1 {
			if math.Float32bits(g[i]) != math.Float32bits(g1[i]) {
				t.Fatalf("%d threads: gradient %d = %v, 1 thread %v", th, i, g[i], g1[i])
			}
		}
	}
}

// transformerParams is the parameter count of the documented layout.
func transformerParams(s TransformerSpec, classes, inCh int) int {
	d := s.Dim
	n := 0
	seq := s.Seq
	if s.Patch > 0 {
		n += inCh*s.Patch*s.Patch*d + d
	} else {
		n += s.Vocab * d
	}
	if s.Pos != "sin" {
		n += seq * d
	}
	n += s.Layers * (2*d + 3*d*d + 3*d + d*d + d + 2*d + s.MLP*d*d + s.MLP*d + s.MLP*d*d + d)
	return n + 2*d + d*classes + classes
}

func TestTransformerSpecs(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		tr    TransformerSpec
		in    []int
		inCh  int
		seq   int
		class int
	}{
		{"transformer:16-256-2x32x4-256", TransformerSpec{Seq: 16, Vocab: 256, Layers: 2, Dim: 32, Heads: 4, MLP: 4, Pos: "learned", Head: "mean"}, []int{16}, 0, 16, 256},
		{"transformer:8-50-1x12x3-5,mlp=2,pos=sin,causal,head=last,dropout=0.1", TransformerSpec{Seq: 8, Vocab: 50, Layers: 1, Dim: 12, Heads: 3, MLP: 2, Pos: "sin", Causal: true, Head: "last"}, []int{8}, 0, 8, 5},
		{"vit:3x8x8-4-2x16x2-10", TransformerSpec{Patch: 4, Layers: 2, Dim: 16, Heads: 2, MLP: 4, Pos: "learned", Head: "mean"}, []int{3, 8, 8}, 3, 4, 10},
		{"vit:1x28x28-7-1x8x1-10,mlp=3", TransformerSpec{Patch: 7, Layers: 1, Dim: 8, Heads: 1, MLP: 3, Pos: "learned", Head: "mean"}, []int{1, 28, 28}, 1, 16, 10},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			m, err := NewModel(tc.spec, 1)
			if err != nil {
				t.Fatal(err)
			}
			got := m.Spec.Tr
			want := tc.tr
			want.Seq = got.Seq
			if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(m.InShape) != fmt.Sprint(tc.in) {
				t.Fatalf("parsed %+v input %v, want %+v input %v", got, m.InShape, want, tc.in)
			}
			tr := tc.tr
			tr.Seq = tc.seq
			if n, w := m.NumParams(), transformerParams(tr, tc.class, tc.inCh); n != w {
				t.Errorf("%d parameters, the documented layout has %d", n, w)
			}
			x := make([]float32, 2*m.SampleSize())
			for i := range x {
				x[i] = float32(i % 5)
			}
			logits, err := m.Logits(cpu.MustNew(cpu.Options{Threads: 1}), x, 2)
			if err != nil || len(logits) != 2*tc.class {
				t.Fatalf("logits: %d values, %v", len(logits), err)
			}
		})
	}
	for _, bad := range []string{
		"transformer:16-256-2x32x5-10",       // heads do not divide the width
		"transformer:16-256-2x32-10",         // no heads
		"transformer:16x2-256-2x32x4-10",     // sequence is one number
		"transformer:5000-256-1x8x1-10",      // too long
		"transformer:16-256-97x8x1-10",       // too deep
		"transformer:16-256-1x8x1-10,mlp=0",  // ratio
		"transformer:16-256-1x8x1-10,pos=x",  // position kind
		"transformer:16-256-1x8x1-10,stem=x", // a resnet option
		"vit:3x8x8-3-1x8x1-10",               // patch does not divide
		"vit:3x8x8-4-1x8x1-10,causal",        // text-only option
		"vit:8x8-4-1x8x1-10",                 // not CxHxW
	} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) accepted", bad)
		}
	}
}

// TestTransformerEmbeddingRejectsBadIDs: a token id outside the vocabulary
// is a clear error before training (the dataset check), not a wrong row.
func TestSinusoidalTable(t *testing.T) {
	p := NewSinusoidalPositions(50, 6)
	for pos := 0; pos < 50; pos++ {
		for i := 0; i < 3; i++ {
			f := math.Pow(10000, -float64(2*i)/6)
			s, c := math.Sin(float64(pos)*f), math.Cos(float64(pos)*f)
			if math.Abs(float64(p.Fixed[pos*6+2*i])-s) > 2e-5*math.Max(1, float64(pos)) || math.Abs(float64(p.Fixed[pos*6+2*i+1])-c) > 2e-5*math.Max(1, float64(pos)) {
				t.Fatalf("position %d pair %d: %v %v, want %v %v", pos, i, p.Fixed[pos*6+2*i], p.Fixed[pos*6+2*i+1], s, c)
			}
		}
	}
}

// TestTransformerRejectsNonTokens: a dataset whose values are not token
// ids below the vocabulary is refused by NewTrainer and Logits with the
// sample and position named.
func TestTransformerRejectsNonTokens(t *testing.T) {
	m, err := NewModel("transformer:4-8-1x8x2-8", 1)
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.MustNew(cpu.Options{Threads: 1})
	for _, bad := range []float32{0.5, 8, -1} {
		x := []float32{1, 2, 3, 4, 5, 6, bad, 7}
		d := Dataset{X: x, Y: []int{1, 2}, N: 2, Shape: []int{4}, Classes: 8}
		cfg := DefaultTrainConfig()
		cfg.BatchSize = 2
		if _, err := NewTrainer(m, d, cfg, be); err == nil || !strings.Contains(err.Error(), "sample 1 position 2") {
			t.Errorf("NewTrainer with id %v: %v", bad, err)
		}
		if _, err := m.Logits(be, x, 2); err == nil {
			t.Errorf("Logits with id %v accepted", bad)
		}
	}
}

// TestLayerNormFastPath: LayerNorm's fast path gives the generic
// definition's outputs and gradients bit for bit, on 1 and 3 threads, for
// a fresh and an accumulating input gradient.
func TestLayerNormFastPath(t *testing.T) {
	run := func(reference bool, th int) [][]float32 {
		referenceNorm = reference
		defer func() { referenceNorm = false }()
		be := cpu.MustNew(cpu.Options{Threads: th})
		ln, ln2 := NewLayerNorm("ln", 37), NewLayerNorm("ln2", 37)
		uniformInit(ln.Gamma.T, 1, 3, 0)
		uniformInit(ln.Beta.T, 1, 3, 1)
		x := randInput(50, 5, 7, 37)
		x.needGrad = true
		tape := &Tape{}
		c := &Ctx{Backend: be, Tape: tape, Train: true}
		// x feeds both paths, so its gradient is written, then accumulated.
		r := &Residual{Main: []Layer{ln}, Shortcut: []Layer{ln2}, Plain: true}
		y := r.Forward(c, x)
		if err := tape.BackwardFrom(y, randInput(51, y.Shape...).Data); err != nil {
			t.Fatal(err)
		}
		return [][]float32{append([]float32(nil), y.Data...), x.Grad, ln.Gamma.T.Grad, ln.Beta.T.Grad}
	}
	want := run(true, 1)
	for _, th := range []int{1, 3} {
		got := run(false, th)
		for k := range want {
			for i := range want[k] {
				if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
					t.Fatalf("%d threads: tensor %d element %d = %v, reference %v", th, k, i, got[k][i], want[k][i])
				}
			}
		}
	}
}

// TestFLOPs checks the count against hand arithmetic for each family.
func TestFLOPs(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want int64
	}{
		{"mlp:784-256-10", 2 * (784*256 + 256*10)},
		{"cnn:1x28x28-1x8-10", 2 * (9*8*28*28 + 8*14*14*10)},
		// stem 3x3 1->4 at 8x8, block: two 3x3 4->4 convs, fc 4->10
		{"resnet:1x8x8-basic-1-4-10", 2 * (9*4*64 + 2*9*4*4*64 + 4*10)},
		// per layer: qkv 8->24, attention 2·(T·T·D), proj 8->8, fc1 8->16, fc2 16->8 over T=5 tokens; head 8->3
		{"transformer:5-9-1x8x2-3,mlp=2", 2*5*(8*24+8*8+8*16+16*8) + 4*5*5*8 + 2*8*3},
		// patch conv 3·4·4 -> 8 at 2x2 patches, then the encoder over 4 tokens
		{"vit:3x8x8-4-1x8x2-5,mlp=2", 2*48*8*4 + 2*4*(8*24+8*8+8*16+16*8) + 4*4*4*8 + 2*8*5},
	} {
		m, err := NewModel(tc.spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := m.FLOPs(); err != nil || got != tc.want {
			t.Errorf("%s: %d FLOPs (%v), want %d", tc.spec, got, err, tc.want)
		}
	}
}
