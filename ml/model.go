package ml

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pouw/pouwd/accel"
)

// ErrSpec reports a model spec string that cannot be parsed.
var ErrSpec = errors.New("invalid model spec")

// Spec is a parsed model spec (see the package comment for the grammar).
type Spec struct {
	Kind    string // "mlp", "cnn", "resnet", "transformer" or "vit"
	Sizes   []int  // mlp: IN, hidden..., OUT
	Input   []int  // cnn, resnet: C, H, W
	Depth   int    // cnn blocks
	Width   int    // cnn channels of the first block; resnet base width
	Classes int
	Act     string  // mlp activation: relu (default), gelu, tanh
	Dropout float32 // dropout probability before each hidden Linear output; 0 = none
	Norm    string  // mlp: "", "batch" or "layer"
	BN      bool    // cnn: BatchNorm after each conv
	Pool    string  // cnn: "max" (default) or "avg"
	FC      int     // cnn: hidden Linear width, 0 = none
	// WidthMul (cnn, resnet: ",width=M") multiplies every channel width; 0 = 1.
	WidthMul int
	Res      ResNetSpec      // resnet (resnet.go)
	Tr       TransformerSpec // transformer, vit (transformer.go)
	raw      string
}

// String is the spec as given.
func (s Spec) String() string { return s.raw }

func atoiList(s, sep string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, sep) {
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 || v > 1<<24 {
			return nil, fmt.Errorf("%q is not a positive size", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// ParseSpec parses a model spec:
//
//	mlp:IN-H1-...-OUT[,act=relu|gelu|tanh][,dropout=P][,norm=batch|layer]
//	cnn:CxHxW-DEPTHxWIDTH-CLASSES[,bn][,pool=max|avg][,fc=HIDDEN][,dropout=P][,width=M]
//	resnet:CxHxW-PRESET-CLASSES[,width=M][,stem=cifar|imagenet]
//	resnet:CxHxW-basic|bottleneck-D1.D2...-WIDTH-CLASSES[,width=M][,stem=cifar|imagenet]
//	transformer:SEQ-VOCAB-LAYERSxDIMxHEADS-CLASSES[,mlp=R][,pos=learned|sin][,causal][,head=mean|last][,dropout=P]
//	vit:CxHxW-PATCH-LAYERSxDIMxHEADS-CLASSES[,mlp=R][,dropout=P]
//
// An MLP is Linear layers of the given widths; after each but the last come
// the optional norm, the activation and the optional dropout. CNN block i (0-based) is a 3x3 convolution (padding 1) with
// WIDTH*2^i channels, optional BatchNorm, ReLU and a 2x2 pool; then an
// optional hidden Linear layer and the classifier. ",width=M" multiplies
// WIDTH by M (cnn and resnet).
//
// A ResNet (resnet.go, torchvision's layout and parameter names) is a stem,
// stages of residual blocks, global average pooling and a Linear
// classifier; every convolution is bias-free and followed by BatchNorm.
// Stage i has planes = WIDTH·M·2^i, Di blocks and stride 2 in its first
// block for i > 0; a block whose stride or channels change has a 1x1
// stride-s convolution + BatchNorm shortcut (option B), otherwise the
// identity. basic blocks are two 3x3 convolutions (out = planes);
// bottleneck blocks are 1x1, 3x3 (with the stride), 1x1 to 4·planes. The
// cifar stem is a 3x3 convolution to WIDTH·M channels, BatchNorm and ReLU;
// the imagenet stem a 7x7 stride-2 convolution, BatchNorm, ReLU and a 3x3
// stride-2 max pool with padding 1. The default stem is imagenet for 4 or
// more stages, cifar otherwise. Presets: resnet20, resnet32, resnet44,
// resnet56, resnet110 (basic, 3 stages of 3, 5, 7, 9, 18 blocks, width 16,
// cifar stem: He et al. 2016 section 4.2 with option B shortcuts) and
// resnet18, resnet34 (basic), resnet50, resnet101, resnet152 (bottleneck)
// with torchvision's stages, width 64 and the imagenet stem; they take any
// input size that survives the downsampling.
//
// A Transformer (transformer.go, attention.go) takes SEQ token ids per
// sample (float32 values 0..VOCAB-1): token embedding, positions (learned,
// or the fixed sinusoidal table with pos=sin), LAYERS pre-LayerNorm encoder
// layers of width DIM (multi-head self-attention with HEADS heads, causal
// with ",causal"; a GELU MLP of R·DIM hidden units, R = 4 by default), a
// final LayerNorm, the mean over tokens (or the last token with
// head=last: next-token prediction) and a Linear head to CLASSES. A ViT
// embeds PATCHxPATCH patches with a stride-PATCH convolution, adds learned
// positions, runs the same encoder and pools by the mean. ",dropout=P"
// drops after the embedding and after each sublayer.
func ParseSpec(spec string) (Spec, error) {
	s := Spec{raw: spec, Act: "relu", Pool: "max"}
	kind, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return s, fmt.Errorf("%w %q: expected mlp:IN-...-OUT or cnn:CxHxW-DEPTHxWIDTH-CLASSES", ErrSpec, spec)
	}
	parts := strings.Split(rest, ",")
	s.Kind = kind
	switch kind {
	case "mlp":
		sizes, err := atoiList(parts[0], "-")
		if err != nil || len(sizes) < 2 {
			return s, fmt.Errorf("%w %q: sizes %q: expected IN-H1-...-OUT with at least two sizes", ErrSpec, spec, parts[0])
		}
		s.Sizes, s.Classes = sizes, sizes[len(sizes)-1]
	case "cnn":
		f := strings.Split(parts[0], "-")
		if len(f) != 3 {
			return s, fmt.Errorf("%w %q: expected CxHxW-DEPTHxWIDTH-CLASSES", ErrSpec, spec)
		}
		in, err1 := atoiList(f[0], "x")
		dw, err2 := atoiList(f[1], "x")
		cl, err3 := atoiList(f[2], "x")
		if err := errors.Join(err1, err2, err3); err != nil || len(in) != 3 || len(dw) != 2 || len(cl) != 1 {
			return s, fmt.Errorf("%w %q: expected CxHxW-DEPTHxWIDTH-CLASSES, e.g. cnn:1x28x28-2x16-10", ErrSpec, spec)
		}
		s.Input, s.Depth, s.Width, s.Classes = in, dw[0], dw[1], cl[0]
		if s.Depth > 16 {
			return s, fmt.Errorf("%w %q: depth %d, expected at most 16", ErrSpec, spec, s.Depth)
		}
	case "resnet":
		if err := parseResNet(&s, parts[0]); err != nil {
			return s, err
		}
	case "transformer", "vit":
		if err := parseTransformer(&s, parts[0]); err != nil {
			return s, err
		}
	default:
		return s, fmt.Errorf("%w %q: unknown kind %q, expected mlp, cnn, resnet, transformer or vit", ErrSpec, spec, kind)
	}
	for _, opt := range parts[1:] {
		k, v, _ := strings.Cut(opt, "=")
		var err error
		switch {
		case k == "act" && kind == "mlp" && (v == "relu" || v == "gelu" || v == "tanh"):
			s.Act = v
		case k == "dropout":
			var p float64
			p, err = strconv.ParseFloat(v, 32)
			if err == nil && (p < 0 || p >= 1) {
				err = fmt.Errorf("dropout %v outside [0, 1)", p)
			}
			s.Dropout = float32(p)
		case k == "norm" && kind == "mlp" && (v == "batch" || v == "layer"):
			s.Norm = v
		case k == "bn" && kind == "cnn" && v == "":
			s.BN = true
		case k == "pool" && kind == "cnn" && (v == "max" || v == "avg"):
			s.Pool = v
		case k == "fc" && kind == "cnn":
			s.FC, err = strconv.Atoi(v)
			if err == nil && s.FC < 1 {
				err = fmt.Errorf("fc %d", s.FC)
			}
		case k == "width" && (kind == "cnn" || kind == "resnet"):
			err = widthOption(&s, v)
		case kind == "resnet" && k == "stem":
			if ok, _ := resnetOption(&s, k, v); !ok {
				err = fmt.Errorf("stem %q, expected cifar or imagenet", v)
			}
		case kind == "transformer" || kind == "vit":
			var ok bool
			if ok, err = transformerOption(&s, k, v); !ok {
				err = fmt.Errorf("unknown option (transformer: mlp=R, pos=learned|sin, causal, head=mean|last, dropout=P; vit: mlp=R, dropout=P)")
			}
		default:
			err = fmt.Errorf("unknown option")
		}
		if err != nil {
			return s, fmt.Errorf("%w %q: option %q: %v", ErrSpec, spec, opt, err)
		}
	}
	return s, nil
}

// Model is a sequence of layers built from a Spec.
type Model struct {
	Spec   Spec
	Seed   uint64
	Layers []Layer
	// InShape is the per-sample input shape.
	InShape []int
	params  []*Param
	// recompute is SetRecompute's segment length in residual blocks (0: off).
	recompute int
}

// NewModel parses spec and builds the model with weights initialised from
// seed.
func NewModel(spec string, seed uint64) (*Model, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	m := &Model{Spec: s, Seed: seed}
	idx := 0
	next := func() int { idx++; return idx - 1 }
	switch s.Kind {
	case "mlp":
		m.InShape = []int{s.Sizes[0]}
		for i := 0; i+1 < len(s.Sizes); i++ {
			m.Layers = append(m.Layers, NewLinear(fmt.Sprintf("fc%d", i), s.Sizes[i], s.Sizes[i+1], seed, next()))
			if i+2 == len(s.Sizes) {
				break
			}
			switch s.Norm {
			case "batch":
				m.Layers = append(m.Layers, NewBatchNorm(fmt.Sprintf("bn%d", i), s.Sizes[i+1]))
			case "layer":
				m.Layers = append(m.Layers, NewLayerNorm(fmt.Sprintf("ln%d", i), s.Sizes[i+1]))
			}
			m.Layers = append(m.Layers, &Activation{Kind: s.Act})
			if s.Dropout > 0 {
				m.Layers = append(m.Layers, &Dropout{P: s.Dropout, Index: next()})
			}
		}
	case "cnn":
		m.InShape = append([]int(nil), s.Input...)
		ch := s.Input[0]
		for i := 0; i < s.Depth; i++ {
			out := s.Width * max(1, s.WidthMul) << i
			m.Layers = append(m.Layers, NewConv2d(fmt.Sprintf("conv%d", i), ch, out, 3, 1, 1, seed, next()))
			if s.BN {
				m.Layers = append(m.Layers, NewBatchNorm(fmt.Sprintf("bn%d", i), out))
			}
			m.Layers = append(m.Layers, &Activation{Kind: "relu"}, &Pool2d{Avg: s.Pool == "avg", K: 2, S: 2})
			ch = out
		}
		m.Layers = append(m.Layers, &Flatten{})
		shape, err := m.shapeAfter(len(m.Layers))
		if err != nil {
			return nil, err
		}
		feat := numel(shape)
		if s.FC > 0 {
			m.Layers = append(m.Layers, NewLinear("fc0", feat, s.FC, seed, next()), &Activation{Kind: "relu"})
			if s.Dropout > 0 {
				m.Layers = append(m.Layers, &Dropout{P: s.Dropout, Index: next()})
			}
			feat = s.FC
		}
		m.Layers = append(m.Layers, NewLinear("out", feat, s.Classes, seed, next()))
	case "resnet":
		if err := buildResNet(m, s, seed, next); err != nil {
			return nil, err
		}
	case "transformer", "vit":
		if err := buildTransformer(m, s, seed, next); err != nil {
			return nil, err
		}
	}
	if _, err := m.shapeAfter(len(m.Layers)); err != nil {
		return nil, err
	}
	for _, l := range m.Layers {
		m.params = append(m.params, l.Params()...)
	}
	return m, nil
}

func (m *Model) shapeAfter(n int) ([]int, error) {
	shape := m.InShape
	for _, l := range m.Layers[:n] {
		var err error
		if shape, err = l.OutShape(shape); err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrSpec, m.Spec.raw, err)
		}
	}
	return shape, nil
}

// Params returns parameters and buffers in canonical order (layer order,
// then each layer's own order).
func (m *Model) Params() []*Param { return m.params }

// NumParams counts trainable parameters.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		if !p.Buffer {
			n += p.T.Numel()
		}
	}
	return n
}

// SampleSize is the number of float32 values per input sample.
func (m *Model) SampleSize() int { return numel(m.InShape) }

// Forward runs the model on x ([N, InShape...]).
func (m *Model) Forward(c *Ctx, x *Tensor) *Tensor { return m.forward(c, x, nil) }

// ZeroGrad resets all parameter gradients to +0 (lazily: the next
// contribution overwrites).
func (m *Model) ZeroGrad() {
	for _, p := range m.params {
		p.T.gradOK = false
	}
}

// CheckInputs checks that x holds what the model's first layer accepts:
// for a token embedding (transformer), integer ids below the vocabulary,
// so that a dataset of other values (pixels, CSV columns) is an error
// naming the sample and position rather than a failure inside a step.
func (m *Model) CheckInputs(x []float32) error {
	if len(m.Layers) == 0 {
		return nil
	}
	e, ok := m.Layers[0].(*Embedding)
	if !ok {
		return nil
	}
	ss := m.SampleSize()
	for i, v := range x {
		if id := int(v); float32(id) != v || id < 0 || id >= e.V {
			return fmt.Errorf("sample %d position %d holds %v, model %s expects token ids 0..%d (integers; prepare text with pouwd data prepare --source text:PATH)", i/ss, i%ss, v, m.Spec.raw, e.V-1)
		}
	}
	return nil
}

// Logits runs inference on n samples stored row-major in x.
func (m *Model) Logits(b accel.Backend, x []float32, n int) ([]float32, error) {
	if len(x) != n*m.SampleSize() {
		return nil, fmt.Errorf("model %s: %d values for %d samples of %d", m.Spec.raw, len(x), n, m.SampleSize())
	}
	if err := m.CheckInputs(x); err != nil {
		return nil, err
	}
	t, _ := FromData(x, append([]int{n}, m.InShape...)...)
	return append([]float32(nil), m.Forward(&Ctx{Backend: b}, t).Data...), nil
}

// Predict returns the argmax class (first maximum) of each of n samples.
func (m *Model) Predict(b accel.Backend, x []float32, n int) ([]int, error) {
	logits, err := m.Logits(b, x, n)
	if err != nil {
		return nil, err
	}
	return argmaxRows(logits, n), nil
}

func argmaxRows(logits []float32, n int) []int {
	k := len(logits) / n
	out := make([]int, n)
	for i := range out {
		row := logits[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// EstimateMemory returns the bytes a training step with the batch size
// needs: EstimateModel's peak (weights, gradients, optimizer slots,
// activations, their gradients and workspaces) for fp32 whole batches on
// one thread with the model's recompute setting, and optimizerSlots 0
// (plain SGD), 1 (SGD with momentum) or 2 (Adam; more slots add their
// bytes). Batch 0 counts the model state only. EstimateModel replaces it
// where the precision, micro-batches or threads are known.
func (m *Model) EstimateMemory(batch, optimizerSlots int) uint64 {
	o := EstimateOptions{Batch: batch, Recompute: m.recompute}
	switch {
	case optimizerSlots == 1:
		o.Momentum = 0.9
	case optimizerSlots >= 2:
		o.Optimizer = "adam"
	}
	e, err := EstimateModel(m, o)
	if err != nil {
		// Only for an invalid batch: the model itself always has rules.
		return 0
	}
	if optimizerSlots > 2 {
		e.PeakBytes += uint64(optimizerSlots-2) * e.GradientBytes
	}
	return e.PeakBytes
}
