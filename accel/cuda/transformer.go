//go:build cuda || cudaemu

package cuda

import "fmt"

// Device operations of the Transformer and ViT layers of package ml
// (ml/attention.go), on Buffers, each giving the bits of the Go code
// (kernels/transformer.cu has the exact expressions). The rest of a
// Transformer uses the operations of ops.go and norm.go:
//
//	per-token Linear   GemmDevice on [N·T, In]; AddBiasRows; ColSum (db)
//	LayerNorm          NormForward, NormBackward with LayerNormGeom(N·T, D)
//	gelu               GELU; GELUBackwardAcc (Zero dx first for a fresh gradient)
//	residual           Add
//	Attention          per (sample, head): GemmDevice Q·Kᵀ into a [T, T]
//	                   block of a [N·Heads, T, T] buffer; AttentionSoftmax;
//	                   GemmDevice P·V; backward: GemmDevice dO·Vᵀ (dP) and
//	                   Pᵀ·dO (dV); AttentionSoftmaxBackward; GemmDevice
//	                   dRaw·K (dQ) and dRawᵀ·Q (dK)

func checkDims(op string, dims ...int) error {
	for _, d := range dims {
		if d < 0 {
			return fmt.Errorf("cuda.%s: negative dimension in %v", op, dims)
		}
	}
	return nil
}

// AttentionSoftmax is ml.Attention's softmax on blocks T x T score blocks
// (one per sample and head, contiguous, row stride T): for row i with
// allowed keys j < k (k = i+1 when causal, else T), S = float32(raw·scale),
// mx = max S over j < k, e = Exp32(S - mx), s = canon.Sum(e over j < k),
// p = e/s, and +0 for j >= k. p may be raw. scale is ml's
// 1/canon.Sqrt32(float32(dh)).
func (b *Backend) AttentionSoftmax(p, raw *Buffer, blocks, t int, causal bool, scale float32) error {
	if err := checkDims("AttentionSoftmax", blocks, t); err != nil {
		return err
	}
	if err := needLen("AttentionSoftmax", blocks*t*t, p, raw); err != nil {
		return err
	}
	return b.launch1(kAttnSoftmaxFwd, blocks*t, args().i32(blocks).i32(t).i32(bool01(causal)).f32(scale).buf(raw).buf(p))
}

// AttentionSoftmaxBackward is ml.Attention's backward through the softmax
// and the scale, from the probabilities p and their gradient dp (= dO·Vᵀ):
// r = canon.Sum(float32(p·dp) over j < k), dRaw = float32(float32(p·
// float32(dp - r))·scale) for j < k and +0 for j >= k. draw may be dp.
func (b *Backend) AttentionSoftmaxBackward(draw, p, dp *Buffer, blocks, t int, causal bool, scale float32) error {
	if err := checkDims("AttentionSoftmaxBackward", blocks, t); err != nil {
		return err
	}
	if err := needLen("AttentionSoftmaxBackward", blocks*t*t, draw, p, dp); err != nil {
		return err
	}
	return b.launch1(kAttnSoftmaxBwd, blocks*t, args().i32(blocks).i32(t).i32(bool01(causal)).f32(scale).buf(p).buf(dp).buf(draw))
}

// TokenPoolForward is ml.TokenPool's forward, x [n, t, d] to y [n, d]: the
// mean over tokens canon.Sum(x[s, :, j])/float32(t), or with last the last
// token's vector.
func (b *Backend) TokenPoolForward(y, x *Buffer, n, t, d int, last bool) error {
	if err := checkDims("TokenPoolForward", n, t, d); err != nil {
		return err
	}
	if t == 0 {
		return fmt.Errorf("cuda.TokenPoolForward: no tokens")
	}
	if err := needLen("TokenPoolForward", n*t*d, x); err != nil {
		return err
	}
	if err := needLen("TokenPoolForward", n*d, y); err != nil {
		return err
	}
	return b.launch1(kTokenPoolFwd, n*d, args().i32(bool01(last)).i32(n).i32(t).i32(d).f32(float32(t)).buf(x).buf(y))
}

// TokenPoolBackward is ml.TokenPool's backward into dx [n, t, d] from
// dy [n, d]: mean: float32(dy/float32(t)) into every token; last: dy into
// the last token (and +0 into the others when fresh). fresh writes, as ml
// does when dx holds no gradient yet; otherwise it adds.
func (b *Backend) TokenPoolBackward(dx, dy *Buffer, n, t, d int, last, fresh bool) error {
	if err := checkDims("TokenPoolBackward", n, t, d); err != nil {
		return err
	}
	if err := needLen("TokenPoolBackward", n*t*d, dx); err != nil {
		return err
	}
	if err := needLen("TokenPoolBackward", n*d, dy); err != nil {
		return err
	}
	return b.launch1(kTokenPoolBwd, n*t*d, args().i32(bool01(last)).i32(bool01(fresh)).i32(n).i32(t).i32(d).f32(float32(t)).buf(dy).buf(dx))
}

// PatchTokensForward is ml.PatchTokens: x [n, d, hw] to y [n, hw, d].
func (b *Backend) PatchTokensForward(y, x *Buffer, n, d, hw int) error {
	if err := checkDims("PatchTokensForward", n, d, hw); err != nil {
		return err
	}
	if err := needLen("PatchTokensForward", n*d*hw, x, y); err != nil {
		return err
	}
	return b.launch1(kPatchTokensFwd, n*d*hw, args().i32(n).i32(d).i64(hw).buf(x).buf(y))
}

// PatchTokensBackward transposes dy [n, hw, d] back into dx [n, d, hw],
// writing when fresh and adding otherwise (as ml).
func (b *Backend) PatchTokensBackward(dx, dy *Buffer, n, d, hw int, fresh bool) error {
	if err := checkDims("PatchTokensBackward", n, d, hw); err != nil {
		return err
	}
	if err := needLen("PatchTokensBackward", n*d*hw, dx, dy); err != nil {
		return err
	}
	return b.launch1(kPatchTokensBwd, n*d*hw, args().i32(bool01(fresh)).i32(n).i32(d).i64(hw).buf(dy).buf(dx))
}

// PositionsForward is ml.Positions' forward: y[s, i] = x[s, i] + tab[i]
// for n samples of m = T·D values.
func (b *Backend) PositionsForward(y, x, tab *Buffer, n, m int) error {
	if err := checkDims("PositionsForward", n, m); err != nil {
		return err
	}
	if err := needLen("PositionsForward", n*m, x, y); err != nil {
		return err
	}
	if err := y.Slice(0, n*m).CopyFrom(x.Slice(0, n*m)); err != nil {
		return err
	}
	return b.AddBiasRows(y, tab, n, m)
}

// ColSumInto is learned ml.Positions' table gradient from dy [rows, cols]:
// fresh: dst[j] = dy[0, j] + dy[1, j] + ... (ml copies the first sample's
// gradient, then adds the others in order); otherwise dst[j] += dy[0, j],
// dy[1, j], ... one after another. The input gradient is dy itself (Add,
// or CopyFrom when fresh).
func (b *Backend) ColSumInto(dst, m *Buffer, rows, cols int, fresh bool) error {
	if err := checkDims("ColSumInto", rows, cols); err != nil {
		return err
	}
	if err := needLen("ColSumInto", rows*cols, m); err != nil {
		return err
	}
	if err := needLen("ColSumInto", cols, dst); err != nil {
		return err
	}
	return b.launch1(kColSumInto, cols, args().i32(bool01(fresh)).i32(rows).i64(cols).buf(m).buf(dst))
}

// SinCos sets s, c = canon.SinCos32(x) for x's values.
func (b *Backend) SinCos(s, c, x *Buffer) error {
	n := x.n
	if err := needLen("SinCos", n, s, c); err != nil {
		return err
	}
	return b.launch1(kSinCos32, n, args().i64(n).buf(x).buf(s).buf(c))
}

// SinusoidalPositions writes ml.NewSinusoidalPositions(t, d)'s table
// [t, d] into tab.
func (b *Backend) SinusoidalPositions(tab *Buffer, t, d int) error {
	if err := checkDims("SinusoidalPositions", t, d); err != nil {
		return err
	}
	if t >= 1<<24 || d >= 1<<24 {
		return fmt.Errorf("cuda.SinusoidalPositions: %d x %d table, at most 2^24-1 each", t, d)
	}
	if err := needLen("SinusoidalPositions", t*d, tab); err != nil {
		return err
	}
	return b.launch1(kSinPositions, t*((d+1)/2), args().i32(t).i32(d).buf(tab))
}

// EmbeddingForward is ml.Embedding's forward: y[p, :] = table[id_p, :]
// for npos positions of d values, the ids being ids' first npos float32
// values (integers in [0, rows of table): the caller checks them, as ml's
// Model.CheckInputs does for a dataset).
func (b *Backend) EmbeddingForward(y, ids, table *Buffer, npos, d int) error {
	if err := checkDims("EmbeddingForward", npos, d); err != nil {
		return err
	}
	if err := needLen("EmbeddingForward", npos, ids); err != nil {
		return err
	}
	if err := needLen("EmbeddingForward", npos*d, y); err != nil {
		return err
	}
	if d > 0 && table.n%d != 0 {
		return fmt.Errorf("cuda.EmbeddingForward: a table of %d values is not rows of %d", table.n, d)
	}
	return b.launch1(kEmbedFwd, npos*d, args().i64(npos).i32(d).buf(ids).buf(table).buf(y))
}

// EmbeddingBackwardAcc is ml.Embedding's backward into the table gradient
// g: g[id_p, :] += dy[p, :] for the positions in order (ml clears the
// gradient first: Zero g for a fresh one).
func (b *Backend) EmbeddingBackwardAcc(g, ids, dy *Buffer, npos, d int) error {
	if err := checkDims("EmbeddingBackwardAcc", npos, d); err != nil {
		return err
	}
	if err := needLen("EmbeddingBackwardAcc", npos, ids); err != nil {
		return err
	}
	if err := needLen("EmbeddingBackwardAcc", npos*d, dy); err != nil {
		return err
	}
	if d > 0 && g.n%d != 0 {
		return fmt.Errorf("cuda.EmbeddingBackwardAcc: a gradient of %d values is not rows of %d", g.n, d)
	}
	return b.launch1(kEmbedBwd, d, args().i64(npos).i32(d).buf(ids).buf(dy).buf(g))
}
