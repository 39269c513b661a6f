//go:build cuda || cudaemu

package devtrain

import (
	"fmt"

	"github.com/pouw/pouwd/accel/canon"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
)

// The stages of a Transformer and a ViT beyond the MLP's and the
// ResNet's: the token embedding, positions (learned or the fixed
// sinusoidal table), multi-head attention, token pooling and the ViT's
// patch tokens. The encoder's LayerNorm is the norm stage (resnet.go), its
// per-token Linear the linear stage with a row per token, its sublayers
// plain residual blocks (resnet.go), and the ViT's patch embedding the
// conv stage (stages.go).

// ---------------------------------------------------------------- Attention

// attention is ml.Attention over the QKV projection [N, T, 3D]: per
// (sample, head) pair GEMMs on views of the buffers with ml's leading
// dimensions, and the softmax of every pair in one launch (the pairs are
// independent, so the launch order changes nothing). The probabilities are
// kept for backward; dp holds their gradient.
type attention struct {
	base
	n, t, d, heads, dh int
	causal             bool
	scale              float32
	probs, dp          *cuda.Buffer
}

func (pl *planner) attention(name string, l *ml.Attention, x *tensor, in []int, n int) (*tensor, error) {
	s := &attention{n: pl.t.batch, t: in[0], d: in[1] / 3, heads: l.Heads, causal: l.Causal}
	s.dh = s.d / s.heads
	s.scale = 1 / canon.Sqrt32(float32(s.dh)) // ml's Attention.scale
	s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, false)}
	blocks := s.n * s.heads * s.t * s.t
	pl.want(&s.probs, name+" probabilities", blocks, nil)
	if x.needGrad {
		pl.want(&s.dp, name+" probability gradients", blocks, nil)
	}
	pl.add(s)
	return s.out, nil
}

func (s *attention) scratchLen() int {
	if s.fresh[0] || !s.x().needGrad {
		return 0
	}
	return s.x().n
}

// qkv returns the view of the pair's queries (part 0), keys (1) or values
// (2) in buf [N, T, 3D] (leading dimension 3D).
func (s *attention) qkv(buf *cuda.Buffer, smp, hd, part int) *cuda.Buffer {
	return from(buf, smp*s.t*3*s.d+part*s.d+hd*s.dh)
}

// block returns pair p's T x T block of buf.
func (s *attention) block(buf *cuda.Buffer, p int) *cuda.Buffer { return buf.Slice(p*s.t*s.t, s.t*s.t) }

func (s *attention) forward(t *Trainer) error {
	b := t.b
	x, y := s.x().val, s.out.val
	T, D, dh, pairs := s.t, s.d, s.dh, s.n*s.heads
	for p := 0; p < pairs; p++ {
		smp, hd := p/s.heads, p%s.heads
		if err := b.GemmDevice(false, true, T, T, dh, s.qkv(x, smp, hd, 0), 3*D, s.qkv(x, smp, hd, 1), 3*D, s.block(s.probs, p), T); err != nil {
			return err
		}
	}
	if err := b.AttentionSoftmax(s.probs, s.probs, pairs, T, s.causal, s.scale); err != nil {
		return err
	}
	for p := 0; p < pairs; p++ {
		smp, hd := p/s.heads, p%s.heads
		if err := b.GemmDevice(false, false, T, dh, T, s.block(s.probs, p), T, s.qkv(x, smp, hd, 2), 3*D, from(y, smp*T*D+hd*dh), D); err != nil {
			return err
		}
	}
	return nil
}

// backward: dP = dO·Vᵀ and dV = Pᵀ·dO per pair, the softmax's backward of
// every pair, then dQ = dRaw·K and dK = dRawᵀ·Q per pair, each GEMM
// writing its third of the input gradient; when that gradient already
// holds a contribution, ml computes into a temporary and adds it.
func (s *attention) backward(t *Trainer) error {
	dx := s.dx()
	if dx == nil {
		return nil
	}
	b := t.b
	x, dy := s.x().val, s.out.grad
	T, D, dh, pairs := s.t, s.d, s.dh, s.n*s.heads
	dst := dx
	if !s.fresh[0] {
		dst = t.scratch.Slice(0, s.x().n)
	}
	for p := 0; p < pairs; p++ {
		smp, hd := p/s.heads, p%s.heads
		dO := from(dy, smp*T*D+hd*dh)
		if err := b.GemmDevice(false, true, T, T, dh, dO, D, s.qkv(x, smp, hd, 2), 3*D, s.block(s.dp, p), T); err != nil {
			return err
		}
		if err := b.GemmDevice(true, false, T, dh, T, s.block(s.probs, p), T, dO, D, s.qkv(dst, smp, hd, 2), 3*D); err != nil {
			return err
		}
	}
	if err := b.AttentionSoftmaxBackward(s.dp, s.probs, s.dp, pairs, T, s.causal, s.scale); err != nil {
		return err
	}
	for p := 0; p < pairs; p++ {
		smp, hd := p/s.heads, p%s.heads
		if err := b.GemmDevice(false, false, T, dh, T, s.block(s.dp, p), T, s.qkv(x, smp, hd, 1), 3*D, s.qkv(dst, smp, hd, 0), 3*D); err != nil {
			return err
		}
		if err := b.GemmDevice(true, false, T, dh, T, s.block(s.dp, p), T, s.qkv(x, smp, hd, 0), 3*D, s.qkv(dst, smp, hd, 1), 3*D); err != nil {
			return err
		}
	}
	if !s.fresh[0] {
		return b.Add(dx, dst)
	}
	return nil
}

// ---------------------------------------------------------------- Positions

// positions is ml.Positions: y = x + the table (the learned pos_emb, or
// the fixed sinusoidal table uploaded from ml's own values). Backward: dx
// is dy (copied when fresh, else added); the learned table's gradient is
// the first sample's gradient plus the others in order (ColSumInto).
type positions struct {
	base
	tab *param // nil: fixed
	fix *cuda.Buffer
	m   int // values per sample (T·D)
}

func (pl *planner) positions(name string, l *ml.Positions, x *tensor, n int) (*tensor, error) {
	s := &positions{m: l.T * l.D}
	learned := l.P != nil
	if learned {
		s.tab = pl.param(l.P)
	} else {
		if len(l.Fixed) != s.m {
			return nil, fmt.Errorf("%s: a fixed table of %d values, expected %d", name, len(l.Fixed), s.m)
		}
		pl.want(&s.fix, name+" table", s.m, l.Fixed)
	}
	s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, learned)}
	pl.add(s)
	return s.out, nil
}

func (s *positions) table() *cuda.Buffer {
	if s.tab != nil {
		return s.tab.w
	}
	return s.fix
}

func (s *positions) forward(t *Trainer) error {
	return t.b.PositionsForward(s.out.val, s.x().val, s.table(), s.out.n/s.m, s.m)
}

func (s *positions) backward(t *Trainer) error {
	dy := s.out.grad
	if dx := s.dx(); dx != nil {
		var err error
		if s.fresh[0] {
			err = dx.CopyFrom(dy)
		} else {
			err = t.b.Add(dx, dy)
		}
		if err != nil {
			return err
		}
	}
	if s.tab == nil {
		return nil
	}
	return t.b.ColSumInto(s.tab.g, dy, s.out.n/s.m, s.m, true)
}

// ---------------------------------------------------------------- pooling and patches

// tokenPool is ml.TokenPool on [n, t, d] (the mean over tokens or the last
// token), and ml.GlobalAvgPool as the mean over [N·C, H·W, 1].
type tokenPool struct {
	base
	n, t, d int
	last    bool
}

func (s *tokenPool) forward(t *Trainer) error {
	return t.b.TokenPoolForward(s.out.val, s.x().val, s.n, s.t, s.d, s.last)
}

func (s *tokenPool) backward(t *Trainer) error {
	if s.dx() == nil {
		return nil
	}
	return t.b.TokenPoolBackward(s.dx(), s.out.grad, s.n, s.t, s.d, s.last, s.fresh[0])
}

// patchTokens is ml.PatchTokens: [N, D, H·W] to [N, H·W, D] and back.
type patchTokens struct {
	base
	n, d, hw int
}

func (s *patchTokens) forward(t *Trainer) error {
	return t.b.PatchTokensForward(s.out.val, s.x().val, s.n, s.d, s.hw)
}

func (s *patchTokens) backward(t *Trainer) error {
	if s.dx() == nil {
		return nil
	}
	return t.b.PatchTokensBackward(s.dx(), s.out.grad, s.n, s.d, s.hw, s.fresh[0])
}

// ---------------------------------------------------------------- Embedding

// embedding is ml.Embedding on the batch's token ids: forward gathers the
// table's rows, backward clears the table's gradient and adds each
// position's gradient row into its id's row, positions in order.
type embedding struct {
	base
	w       *param
	npos, d int
}

func (pl *planner) embedding(name string, l *ml.Embedding, x *tensor, in []int, n int) (*tensor, error) {
	if x != pl.t.input {
		return nil, fmt.Errorf("%s: a token embedding has a device path only as the first layer (its ids are the batch)", name)
	}
	pl.t.vocab = l.V
	s := &embedding{w: pl.param(l.W), npos: pl.t.batch * numel(in), d: l.D}
	s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, true)}
	pl.add(s)
	return s.out, nil
}

func (s *embedding) forward(t *Trainer) error {
	return t.b.EmbeddingForward(s.out.val, s.x().val, s.w.w, s.npos, s.d)
}

func (s *embedding) backward(t *Trainer) error {
	if err := s.w.g.Zero(); err != nil {
		return err
	}
	return t.b.EmbeddingBackwardAcc(s.w.g, s.x().val, s.out.grad, s.npos, s.d)
}
