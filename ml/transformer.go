package ml

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// TransformerSpec is the Transformer / ViT part of a Spec (Kind
// "transformer" or "vit").
type TransformerSpec struct {
	Seq   int // transformer: tokens per sample
	Vocab int // transformer: token ids are 0..Vocab-1
	Patch int // vit: square patch side
	// Layers encoder blocks of width Dim with Heads attention heads and an
	// MLP of MLP·Dim hidden units.
	Layers, Dim, Heads, MLP int
	Pos                     string // "learned" (default) or "sin" (transformer only)
	Causal                  bool   // transformer: token t attends to tokens 0..t only
	Head                    string // "mean" (default: mean over tokens) or "last" (the last token: next-token prediction)
}

// Limits of the transformer grammar (ParseSpec).
const (
	maxSeq         = 4096
	maxVocab       = 1 << 20
	maxTransLayers = 96
	maxDim         = 1 << 14
	maxMLPRatio    = 16
)

// parseTransformer parses the part of a transformer or vit spec before the
// options: SEQ-VOCAB-LxDxH-CLASSES or CxHxW-PATCH-LxDxH-CLASSES.
func parseTransformer(s *Spec, head string) error {
	usage := fmt.Errorf("%w %q: expected transformer:SEQ-VOCAB-LAYERSxDIMxHEADS-CLASSES (e.g. transformer:64-256-4x256x8-256)", ErrSpec, s.raw)
	if s.Kind == "vit" {
		usage = fmt.Errorf("%w %q: expected vit:CxHxW-PATCH-LAYERSxDIMxHEADS-CLASSES (e.g. vit:3x32x32-4-6x192x3-10)", ErrSpec, s.raw)
	}
	f := strings.Split(head, "-")
	if len(f) != 4 {
		return usage
	}
	var nums [2][]int
	for i := range nums {
		v, err := atoiList(f[i], "x")
		if err != nil {
			return usage
		}
		nums[i] = v
	}
	enc, err := atoiList(f[2], "x")
	if err != nil || len(enc) != 3 {
		return usage
	}
	cl, err := atoiList(f[3], "x")
	if err != nil || len(cl) != 1 {
		return usage
	}
	t := TransformerSpec{Layers: enc[0], Dim: enc[1], Heads: enc[2], MLP: 4, Pos: "learned", Head: "mean"}
	s.Classes = cl[0]
	if s.Kind == "transformer" {
		if len(nums[0]) != 1 || len(nums[1]) != 1 {
			return usage
		}
		t.Seq, t.Vocab = nums[0][0], nums[1][0]
		if t.Seq > maxSeq || t.Vocab > maxVocab {
			return fmt.Errorf("%w %q: sequence %d and vocabulary %d, expected at most %d and %d", ErrSpec, s.raw, t.Seq, t.Vocab, maxSeq, maxVocab)
		}
		s.Input = []int{t.Seq}
	} else {
		if len(nums[0]) != 3 || len(nums[1]) != 1 {
			return usage
		}
		s.Input, t.Patch = nums[0], nums[1][0]
		if s.Input[1]%t.Patch != 0 || s.Input[2]%t.Patch != 0 {
			return fmt.Errorf("%w %q: patch %d does not divide the image %dx%d", ErrSpec, s.raw, t.Patch, s.Input[1], s.Input[2])
		}
		if np := s.Input[1] / t.Patch * (s.Input[2] / t.Patch); np > maxSeq {
			return fmt.Errorf("%w %q: %d patches, expected at most %d", ErrSpec, s.raw, np, maxSeq)
		}
	}
	switch {
	case t.Layers > maxTransLayers:
		return fmt.Errorf("%w %q: %d layers, expected at most %d", ErrSpec, s.raw, t.Layers, maxTransLayers)
	case t.Dim > maxDim:
		return fmt.Errorf("%w %q: width %d, expected at most %d", ErrSpec, s.raw, t.Dim, maxDim)
	case t.Dim%t.Heads != 0:
		return fmt.Errorf("%w %q: %d heads do not divide the width %d", ErrSpec, s.raw, t.Heads, t.Dim)
	}
	s.Tr = t
	return nil
}

// transformerOption applies a transformer or vit option; ok is false for
// unknown ones.
func transformerOption(s *Spec, k, v string) (ok bool, err error) {
	text := s.Kind == "transformer"
	switch {
	case k == "mlp":
		r, err := strconv.Atoi(v)
		if err != nil || r < 1 || r > maxMLPRatio {
			return true, fmt.Errorf("mlp ratio %q, expected an integer in 1..%d", v, maxMLPRatio)
		}
		s.Tr.MLP = r
	case k == "pos" && text && (v == "learned" || v == "sin"):
		s.Tr.Pos = v
	case k == "causal" && text && v == "":
		s.Tr.Causal = true
	case k == "head" && text && (v == "mean" || v == "last"):
		s.Tr.Head = v
	default:
		return false, nil
	}
	return true, nil
}

// Initialisation scale of Transformer weights: uniform with standard
// deviation 0.02 (GPT-2's), the residual projections further divided by
// sqrt(2·layers).
const transformerInitStd = 0.02

// uniformInit fills t uniformly in [-bound, bound) from (seed, index), the
// same stream as heUniform.
func uniformInit(t *Tensor, bound float32, seed uint64, index int) {
	r := NewRNG("pouw/init/v1", seed, uint64(index), 0)
	for i := range t.Data {
		u := r.Float32()
		t.Data[i] = float32(float32(2*u-1) * bound)
	}
}

// uniformBound is sqrt(3)·std, the bound of a uniform law with that
// standard deviation (computed in float64 and rounded once).
func uniformBound(std float64) float32 { return float32(std * 1.7320508075688772) }

// newTokenLinear is a per-token Linear (Tokens) initialised uniform with the
// given standard deviation, bias zero.
func newTokenLinear(name string, in, out int, std float64, seed uint64, index int) *Linear {
	l := &Linear{In: in, Out: out, Tokens: true, W: newParam(name+".weight", in, out), B: newParam(name+".bias", out)}
	uniformInit(l.W.T, uniformBound(std), seed, index)
	return l
}

// newEncoderBlock returns the two pre-LayerNorm residual blocks of encoder
// layer name: x + Drop(proj(Attn(qkv(LN1(x))))), then
// x + Drop(fc2(GELU(fc1(LN2(x))))).
func newEncoderBlock(name string, t TransformerSpec, dropout float32, seed uint64, next func() int) []Layer {
	d := t.Dim
	std := transformerInitStd
	resStd := std / math.Sqrt(float64(2*t.Layers)) // sqrt is correctly rounded
	attn := []Layer{NewLayerNorm(name+".ln1", d),
		newTokenLinear(name+".attn.qkv", d, 3*d, std, seed, next()),
		&Attention{Heads: t.Heads, Causal: t.Causal},
		newTokenLinear(name+".attn.proj", d, d, resStd, seed, next())}
	mlp := []Layer{NewLayerNorm(name+".ln2", d),
		newTokenLinear(name+".mlp.fc1", d, t.MLP*d, std, seed, next()),
		&Activation{Kind: "gelu"},
		newTokenLinear(name+".mlp.fc2", t.MLP*d, d, resStd, seed, next())}
	if dropout > 0 {
		attn = append(attn, &Dropout{P: dropout, Index: next()})
		mlp = append(mlp, &Dropout{P: dropout, Index: next()})
	}
	return []Layer{&Residual{Main: attn, Plain: true}, &Residual{Main: mlp, Plain: true}}
}

// buildTransformer appends the layers of a transformer or vit spec to m.
//
// transformer: tok_emb (Embedding VOCAB x DIM), positions (learned pos_emb
// SEQ x DIM, or the fixed sinusoidal table), optional dropout, LAYERS
// encoder blocks (newEncoderBlock: blocks.i.*), the final LayerNorm ln_f,
// pooling (mean over tokens, or the last token) and the Linear head.
// vit: a PATCH x PATCH stride-PATCH convolution with bias (patch_embed) to
// DIM channels, the patches as tokens in row-major order, learned
// positions, the same encoder, ln_f, the mean over patches and the head.
func buildTransformer(m *Model, s Spec, seed uint64, next func() int) error {
	t := s.Tr
	d := t.Dim
	bound := uniformBound(transformerInitStd)
	m.InShape = append([]int(nil), s.Input...)
	seq := t.Seq
	if s.Kind == "transformer" {
		emb := &Embedding{V: t.Vocab, D: d, W: newParam("tok_emb.weight", t.Vocab, d)}
		uniformInit(emb.W.T, bound, seed, next())
		m.Layers = append(m.Layers, emb)
	} else {
		m.Layers = append(m.Layers, NewConv2d("patch_embed", s.Input[0], d, t.Patch, t.Patch, 0, seed, next()), &PatchTokens{})
		seq = s.Input[1] / t.Patch * (s.Input[2] / t.Patch)
	}
	if t.Pos == "sin" {
		m.Layers = append(m.Layers, NewSinusoidalPositions(seq, d))
	} else {
		p := &Positions{T: seq, D: d, P: newParam("pos_emb", seq, d)}
		uniformInit(p.P.T, bound, seed, next())
		m.Layers = append(m.Layers, p)
	}
	if s.Dropout > 0 {
		m.Layers = append(m.Layers, &Dropout{P: s.Dropout, Index: next()})
	}
	for i := 0; i < t.Layers; i++ {
		m.Layers = append(m.Layers, newEncoderBlock(fmt.Sprintf("blocks.%d", i), t, s.Dropout, seed, next)...)
	}
	pool := &TokenPool{Last: t.Head == "last"}
	head := newTokenLinear("head", d, s.Classes, transformerInitStd, seed, next())
	head.Tokens = false
	m.Layers = append(m.Layers, NewLayerNorm("ln_f", d), pool, head)
	return nil
}
