package types

import (
	"fmt"
	"math/bits"
	"strings"
)

// How ModelConfig.layers encode each architecture (proto/pouwml/v1/types.proto,
// x/pouwml/README.md). The bounds are the training engine's (ml.ParseSpec),
// so that a configuration the chain accepts is one the engine can build.
const (
	// ResNet: layers = [BLOCK, WIDTH, D1, ..., Dn].
	ResNetBasic      = 1
	ResNetBottleneck = 2
	MaxResNetStages  = 8
	MaxResNetWidth   = 1 << 16
	// ResNets of at least this many stages get the ImageNet stem (7x7/2
	// convolution and 3x3/2 max pool), shallower ones the CIFAR stem (3x3).
	ResNetImageNetStages = 4

	// Transformer: layers = [LAYERS, DIM, HEADS, VOCAB, MLP_RATIO, FLAGS],
	// the last two optional. ViT: layers = [PATCH, LAYERS, DIM, HEADS,
	// MLP_RATIO], the last optional.
	TransformerCausal   = 1 << 0 // FLAGS bit 0: causal attention
	TransformerSinPos   = 1 << 1 // FLAGS bit 1: sinusoidal positions (else learned)
	TransformerLastHead = 1 << 2 // FLAGS bit 2: the head reads the last token (else the mean)
	TransformerFlags    = TransformerCausal | TransformerSinPos | TransformerLastHead

	DefaultMLPRatio      = 4
	MaxMLPRatio          = 16
	MaxTransformerLayers = 96
	MaxTransformerDim    = 1 << 14
	MaxVocab             = 1 << 20
	// MaxTokens bounds a transformer's sequence (the dataset's [SEQ]) and a
	// ViT's patch count.
	MaxTokens = 4096

	// CNN: layers = [W, 2W, 4W, ...].
	MaxCNNBlocks = 16
)

// ResNetLayout is a resnet configuration's layers decoded.
type ResNetLayout struct {
	Bottleneck bool
	Width      uint64   // channels of the first stage's blocks (planes)
	Stages     []uint64 // blocks per stage
}

// ImageNetStem reports whether the layout gets the ImageNet stem.
func (r ResNetLayout) ImageNetStem() bool { return len(r.Stages) >= ResNetImageNetStages }

// TransformerLayout is a transformer or vit configuration's layers decoded.
type TransformerLayout struct {
	Patch                    uint64 // vit only
	Layers, Dim, Heads, MLP  uint64
	Vocab                    uint64 // transformer only
	Causal, SinPos, LastHead bool   // transformer only
}

func layoutErr(arch, format string, args ...any) error {
	return fmt.Errorf("%s layers%s", arch, fmt.Sprintf(format, args...))
}

func inRange(arch, name string, v, lo, hi uint32) error {
	if v < lo || v > hi {
		return layoutErr(arch, "%s must be in [%d, %d], got %d", name, lo, hi, v)
	}
	return nil
}

// ResNet decodes a resnet configuration: [BLOCK, WIDTH, D1, ..., Dn] with
// BLOCK 1 (basic) or 2 (bottleneck), WIDTH 1..65536 and 1 to 8 stages of
// 1..2^20 blocks.
func (c ModelConfig) ResNet() (ResNetLayout, error) {
	const arch = "resnet"
	l := c.Layers
	if c.Architecture != arch {
		return ResNetLayout{}, fmt.Errorf("architecture %q is not resnet", c.Architecture)
	}
	if len(l) < 3 || len(l) > 2+MaxResNetStages {
		return ResNetLayout{}, layoutErr(arch, " must be [BLOCK, WIDTH, D1, ..., Dn] with 1 to %d stages (3 to %d entries), got %d entries", MaxResNetStages, 2+MaxResNetStages, len(l))
	}
	if l[0] != ResNetBasic && l[0] != ResNetBottleneck {
		return ResNetLayout{}, layoutErr(arch, "[0] (BLOCK) must be 1 (basic) or 2 (bottleneck), got %d", l[0])
	}
	if err := inRange(arch, "[1] (WIDTH)", l[1], 1, MaxResNetWidth); err != nil {
		return ResNetLayout{}, err
	}
	r := ResNetLayout{Bottleneck: l[0] == ResNetBottleneck, Width: uint64(l[1])}
	for i, d := range l[2:] {
		if err := inRange(arch, fmt.Sprintf("[%d] (blocks of stage %d)", i+2, i+1), d, 1, MaxLayerSize); err != nil {
			return ResNetLayout{}, err
		}
		r.Stages = append(r.Stages, uint64(d))
	}
	return r, nil
}

// Transformer decodes a transformer configuration: [LAYERS, DIM, HEADS,
// VOCAB, MLP_RATIO, FLAGS], MLP_RATIO and FLAGS optional (4 and 0), or a vit
// configuration: [PATCH, LAYERS, DIM, HEADS, MLP_RATIO], MLP_RATIO optional.
func (c ModelConfig) Transformer() (TransformerLayout, error) {
	arch := c.Architecture
	l := c.Layers
	var t TransformerLayout
	var enc []uint32 // LAYERS, DIM, HEADS
	var mlp []uint32 // MLP_RATIO, when given
	switch arch {
	case "transformer":
		if len(l) < 4 || len(l) > 6 {
			return t, layoutErr(arch, " must be [LAYERS, DIM, HEADS, VOCAB] optionally followed by MLP_RATIO and FLAGS (4 to 6 entries), got %d entries", len(l))
		}
		enc, mlp = l[0:3], l[4:min(len(l), 5)]
		if err := inRange(arch, "[3] (VOCAB)", l[3], 1, MaxVocab); err != nil {
			return t, err
		}
		t.Vocab = uint64(l[3])
		if len(l) == 6 {
			f := l[5]
			if f&^TransformerFlags != 0 {
				return t, layoutErr(arch, "[5] (FLAGS) must be a bit set of 1 (causal), 2 (sinusoidal positions) and 4 (head on the last token), 0 to %d, got %d", TransformerFlags, f)
			}
			t.Causal, t.SinPos, t.LastHead = f&TransformerCausal != 0, f&TransformerSinPos != 0, f&TransformerLastHead != 0
		}
	case "vit":
		if len(l) < 4 || len(l) > 5 {
			return t, layoutErr(arch, " must be [PATCH, LAYERS, DIM, HEADS] optionally followed by MLP_RATIO (4 or 5 entries), got %d entries", len(l))
		}
		if err := inRange(arch, "[0] (PATCH)", l[0], 1, MaxShapeDim); err != nil {
			return t, err
		}
		t.Patch = uint64(l[0])
		enc, mlp = l[1:4], l[4:]
	default:
		return t, fmt.Errorf("architecture %q is not transformer or vit", arch)
	}
	o := 0 // index of LAYERS in layers
	if arch == "vit" {
		o = 1
	}
	if err := inRange(arch, fmt.Sprintf("[%d] (LAYERS)", o), enc[0], 1, MaxTransformerLayers); err != nil {
		return t, err
	}
	if err := inRange(arch, fmt.Sprintf("[%d] (DIM)", o+1), enc[1], 1, MaxTransformerDim); err != nil {
		return t, err
	}
	if enc[2] == 0 || enc[1]%enc[2] != 0 {
		return t, layoutErr(arch, "[%d] (HEADS) must divide DIM %d, got %d", o+2, enc[1], enc[2])
	}
	t.Layers, t.Dim, t.Heads, t.MLP = uint64(enc[0]), uint64(enc[1]), uint64(enc[2]), DefaultMLPRatio
	if len(mlp) == 1 {
		if err := inRange(arch, "[4] (MLP_RATIO)", mlp[0], 1, MaxMLPRatio); err != nil {
			return t, err
		}
		t.MLP = uint64(mlp[0])
	}
	return t, nil
}

// validateLayers checks the architecture and the layers' encoding:
// everything about the layers that needs no dataset.
func validateLayers(c ModelConfig) error {
	known := false
	for _, a := range Architectures {
		if c.Architecture == a {
			known = true
		}
	}
	if !known {
		return fmt.Errorf("architecture must be one of %s, got %q", strings.Join(Architectures, ", "), c.Architecture)
	}
	if len(c.Layers) == 0 || len(c.Layers) > MaxLayers {
		return fmt.Errorf("layers must have 1 to %d entries, got %d", MaxLayers, len(c.Layers))
	}
	switch c.Architecture {
	case "mlp":
		if len(c.Layers) < 2 {
			return fmt.Errorf("mlp layers must be the widths [IN, ..., OUT], at least 2 entries, got %d", len(c.Layers))
		}
	case "cnn":
		if len(c.Layers) > MaxCNNBlocks {
			return fmt.Errorf("cnn layers must be 1 to %d block widths, got %d", MaxCNNBlocks, len(c.Layers))
		}
		w := uint64(c.Layers[0])
		for i, l := range c.Layers {
			if uint64(l) != w<<i {
				return fmt.Errorf("cnn layers[%d] must be %d: each block doubles the channels of the first (%d), got %d", i, w<<i, w, l)
			}
		}
	case "resnet":
		if _, err := c.ResNet(); err != nil {
			return err
		}
	case "transformer", "vit":
		if _, err := c.Transformer(); err != nil {
			return err
		}
	}
	for i, l := range c.Layers {
		if c.Architecture == "transformer" && i == 5 {
			continue // FLAGS may be 0
		}
		if l == 0 || l > MaxLayerSize {
			return fmt.Errorf("%s layers[%d] must be in [1, %d], got %d", c.Architecture, i, MaxLayerSize, l)
		}
	}
	return nil
}

// counter multiplies and adds uint64s and remembers an overflow.
type counter struct{ overflow bool }

func (k *counter) mul(xs ...uint64) uint64 {
	r := uint64(1)
	for _, x := range xs {
		hi, lo := bits.Mul64(r, x)
		if hi != 0 {
			k.overflow = true
		}
		r = lo
	}
	return r
}

func (k *counter) add(xs ...uint64) uint64 {
	var r uint64
	for _, x := range xs {
		var c uint64
		r, c = bits.Add64(r, x, 0)
		if c != 0 {
			k.overflow = true
		}
	}
	return r
}

// linear counts a Linear layer with bias: in·out + out.
func (k *counter) linear(in, out uint64) uint64 { return k.add(k.mul(in, out), out) }

// conv counts a bias-free k×k convolution: in·out·k².
func (k *counter) conv(in, out, size uint64) uint64 { return k.mul(in, out, size, size) }

// ModelParams is the exact number of trainable parameters of configuration
// c on samples of the given shape with the given class count: what the
// engine's ml.NewModel(jobspec.ModelSpec(c, shape, classes), seed).NumParams()
// returns (weights and biases; BatchNorm running statistics are buffers,
// not parameters). It fails for a configuration whose layers are not a
// valid encoding (validateLayers), that does not fit the shape or classes,
// or whose count does not fit a uint64. Integer arithmetic only.
//
//   - mlp [IN, H.., OUT]: sum of IN_i·OUT_i + OUT_i; IN = product of the
//     shape, OUT = classes.
//   - cnn [W, 2W, ..] on [C,H,W]: block i is a 3x3 conv with bias
//     (Cin·Cout·9 + Cout) and a 2x2 pool (H, W >= 2 before it, halved
//     after); then Linear(Cout·H'·W', classes).
//   - resnet [BLOCK, WIDTH, D..] on [C,H,W] (torchvision's layout): the stem
//     conv C→WIDTH (7x7 for >= 4 stages, else 3x3, no bias) and BatchNorm
//     (2·WIDTH); stage i has planes P = WIDTH·2^i; a basic block in→P is two
//     3x3 convs (in·P·9 + P·P·9) with two BatchNorms (4P); a bottleneck block
//     in→4P is 1x1, 3x3, 1x1 (in·P + 9P² + 4P²) with BatchNorms (2P+2P+8P);
//     the first block of a stage whose stride (stage > 1) or channels change
//     adds a 1x1 shortcut conv and BatchNorm (in·out + 2·out); then
//     Linear(out, classes).
//   - transformer [L, D, H, V, R, F] on [SEQ]: embedding V·D, learned
//     positions SEQ·D (none when sinusoidal), L layers of (4+2R)·D² + (9+R)·D,
//     final LayerNorm 2D and Linear(D, classes).
//   - vit [P, L, D, H, R] on [C,H,W]: patch conv with bias C·P²·D + D, learned
//     positions Np·D with Np = (H/P)·(W/P), the same L layers, 2D and
//     Linear(D, classes).
func ModelParams(c ModelConfig, shape []uint32, classes uint32) (uint64, error) {
	if err := validateLayers(c); err != nil {
		return 0, err
	}
	if len(shape) == 0 {
		return 0, fmt.Errorf("the dataset has no sample shape")
	}
	for i, d := range shape {
		if d == 0 {
			return 0, fmt.Errorf("the dataset's shape %v has a zero dimension %d", shape, i)
		}
	}
	if classes == 0 {
		return 0, fmt.Errorf("the dataset has no classes")
	}
	var k counter
	cl := uint64(classes)
	image := func() (ch, h, w uint64, err error) {
		if len(shape) != 3 {
			return 0, 0, 0, fmt.Errorf("%s needs [C,H,W] samples, the dataset's shape is %v", c.Architecture, shape)
		}
		return uint64(shape[0]), uint64(shape[1]), uint64(shape[2]), nil
	}
	var n uint64
	switch c.Architecture {
	case "mlp":
		in := k.mul(u64s(shape)...)
		if k.overflow || in != uint64(c.Layers[0]) {
			return 0, fmt.Errorf("mlp input width layers[0] = %d must be the product of the dataset's shape %v (%d)", c.Layers[0], shape, in)
		}
		if last := c.Layers[len(c.Layers)-1]; last != classes {
			return 0, fmt.Errorf("mlp output width layers[%d] = %d must be the dataset's class count %d", len(c.Layers)-1, last, classes)
		}
		for i := 0; i+1 < len(c.Layers); i++ {
			n = k.add(n, k.linear(uint64(c.Layers[i]), uint64(c.Layers[i+1])))
		}
	case "cnn":
		ch, h, w, err := image()
		if err != nil {
			return 0, err
		}
		for i, l := range c.Layers {
			if h < 2 || w < 2 {
				return 0, fmt.Errorf("cnn block %d's 2x2 pool needs at least 2x2 pixels, the %dx%d samples are %dx%d there", i, shape[1], shape[2], h, w)
			}
			out := uint64(l)
			n = k.add(n, k.conv(ch, out, 3), out)
			ch, h, w = out, h/2, w/2
		}
		n = k.add(n, k.linear(k.mul(ch, h, w), cl))
	case "resnet":
		in, _, _, err := image()
		if err != nil {
			return 0, err
		}
		r, _ := c.ResNet()
		stem := uint64(3)
		if r.ImageNetStem() {
			stem = 7
		}
		n = k.add(k.conv(in, r.Width, stem), 2*r.Width)
		ch := r.Width
		for i, blocks := range r.Stages {
			p := k.mul(r.Width, uint64(1)<<i)
			out := p
			if r.Bottleneck {
				out = k.mul(4, p)
			}
			// block counts a residual block from `in` channels without its
			// shortcut: basic 3x3 in→P, 3x3 P→P and two BatchNorms;
			// bottleneck 1x1 in→P, 3x3 P→P, 1x1 P→4P and three BatchNorms.
			block := func(in uint64) uint64 {
				if r.Bottleneck {
					return k.add(k.conv(in, p, 1), k.conv(p, p, 3), k.conv(p, out, 1), k.mul(4, p), k.mul(2, out))
				}
				return k.add(k.conv(in, p, 3), k.conv(p, p, 3), k.mul(4, p))
			}
			first := block(ch)
			if i > 0 || ch != out { // stride 2 or a channel change: 1x1 conv + BatchNorm shortcut
				first = k.add(first, k.conv(ch, out, 1), k.mul(2, out))
			}
			n = k.add(n, first, k.mul(blocks-1, block(out)))
			ch = out
		}
		n = k.add(n, k.linear(ch, cl))
	case "transformer":
		if len(shape) != 1 {
			return 0, fmt.Errorf("transformer needs samples of shape [SEQ] (token ids), the dataset's shape is %v", shape)
		}
		seq := uint64(shape[0])
		if seq > MaxTokens {
			return 0, fmt.Errorf("transformer sequences of at most %d tokens, the dataset's are %d", MaxTokens, seq)
		}
		t, _ := c.Transformer()
		n = k.mul(t.Vocab, t.Dim)
		if !t.SinPos {
			n = k.add(n, k.mul(seq, t.Dim))
		}
		n = k.add(n, encoderParams(&k, t, cl))
	case "vit":
		in, h, w, err := image()
		if err != nil {
			return 0, err
		}
		t, _ := c.Transformer()
		if h%t.Patch != 0 || w%t.Patch != 0 {
			return 0, fmt.Errorf("vit PATCH layers[0] = %d must divide the dataset's image %dx%d", t.Patch, h, w)
		}
		np := (h / t.Patch) * (w / t.Patch)
		if np > MaxTokens {
			return 0, fmt.Errorf("vit PATCH %d cuts the %dx%d images into %d patches, at most %d allowed", t.Patch, h, w, np, MaxTokens)
		}
		n = k.add(k.mul(in, t.Patch, t.Patch, t.Dim), t.Dim, k.mul(np, t.Dim), encoderParams(&k, t, cl))
	}
	if k.overflow {
		return 0, fmt.Errorf("%s configuration %v has more than 2^64 parameters", c.Architecture, c.Layers)
	}
	return n, nil
}

// encoderParams counts the encoder layers, the final LayerNorm and the head
// of a transformer or vit: per layer LayerNorm 2D, QKV D→3D, output D→D,
// LayerNorm 2D, MLP D→R·D→D, all Linears with bias.
func encoderParams(k *counter, t TransformerLayout, classes uint64) uint64 {
	d, rd := t.Dim, k.mul(t.MLP, t.Dim)
	layer := k.add(2*d, k.linear(d, 3*d), k.linear(d, d), 2*d, k.linear(d, rd), k.linear(rd, d))
	return k.add(k.mul(t.Layers, layer), 2*d, k.linear(d, classes))
}

func u64s(xs []uint32) []uint64 {
	out := make([]uint64, len(xs))
	for i, x := range xs {
		out[i] = uint64(x)
	}
	return out
}

// DatasetModelParams is ModelParams of c over a registered dataset's
// FeatureShape and NumClasses, with what only the dataset's format tells: a
// transformer over DATASET_FORMAT_TEXT reads byte ids 0..255, so its VOCAB
// must be at least 256.
func DatasetModelParams(c ModelConfig, ds Dataset) (uint64, error) {
	n, err := ModelParams(c, ds.FeatureShape, ds.NumClasses)
	if err != nil {
		return 0, err
	}
	if c.Architecture == "transformer" && ds.Format == DATASET_FORMAT_TEXT {
		if t, _ := c.Transformer(); t.Vocab < TextClasses {
			return 0, fmt.Errorf("transformer VOCAB layers[3] = %d: a %s dataset holds byte ids 0..%d, so VOCAB must be at least %d", t.Vocab, ds.Format, TextClasses-1, TextClasses)
		}
	}
	return n, nil
}
