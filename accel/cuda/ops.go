//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"github.com/pouw/pouwd/accel/canon"
)

// Device operations on Buffers. Each mirrors one canonical operation of
// accel/canon, accel/cpu or package ml and gives the same bits (see
// kernels/*.cu for the exact expressions). Launches are asynchronous; a
// Download or Sync waits for them. Arguments are validated before launch.

func needLen(op string, n int, bufs ...*Buffer) error {
	for i, x := range bufs {
		if x == nil || x.n < n {
			have := -1
			if x != nil {
				have = x.n
			}
			return fmt.Errorf("cuda.%s: operand %d has %d values, needs %d", op, i, have, n)
		}
	}
	return nil
}

// ---------------------------------------------------------------- elementwise

func (b *Backend) unary(op string, k kernel, y, x *Buffer) error {
	n := x.n
	if err := needLen(op, n, y); err != nil {
		return err
	}
	return b.launch1(k, n, args().i64(n).buf(x).buf(y))
}

// Exp sets y = canon.Exp32(x) for x's values.
func (b *Backend) Exp(y, x *Buffer) error { return b.unary("Exp", kExp32, y, x) }

// Log sets y = canon.Log32(x).
func (b *Backend) Log(y, x *Buffer) error { return b.unary("Log", kLog32, y, x) }

// Tanh sets y = canon.Tanh32(x) (also the tanh activation forward).
func (b *Backend) Tanh(y, x *Buffer) error { return b.unary("Tanh", kTanh32, y, x) }

// Erf sets y = canon.Erf32(x).
func (b *Backend) Erf(y, x *Buffer) error { return b.unary("Erf", kErf32, y, x) }

// Add sets dst += src (ml addTo) over src's length.
func (b *Backend) Add(dst, src *Buffer) error {
	n := src.n
	if err := needLen("Add", n, dst); err != nil {
		return err
	}
	return b.launch1(kAdd, n, args().i64(n).buf(dst).buf(src))
}

// MulAcc sets dst += float32(x·y) over x's length (dropout backward).
func (b *Backend) MulAcc(dst, x, y *Buffer) error {
	n := x.n
	if err := needLen("MulAcc", n, dst, y); err != nil {
		return err
	}
	return b.launch1(kMulAcc, n, args().i64(n).buf(dst).buf(x).buf(y))
}

// Mul sets out = float32(x·y) over x's length.
func (b *Backend) Mul(out, x, y *Buffer) error {
	n := x.n
	if err := needLen("Mul", n, out, y); err != nil {
		return err
	}
	return b.launch1(kMul, n, args().i64(n).buf(out).buf(x).buf(y))
}

// AddBiasRows sets y[r, j] += bias[j] for a rows x cols y (Linear forward).
func (b *Backend) AddBiasRows(y, bias *Buffer, rows, cols int) error {
	if err := needLen("AddBiasRows", rows*cols, y); err != nil {
		return err
	}
	if err := needLen("AddBiasRows", cols, bias); err != nil {
		return err
	}
	return b.launch1(kAddBiasRows, rows*cols, args().i32(rows).i32(cols).buf(y).buf(bias))
}

// ReLUMask sets dst = x > 0 ? src : +0 (accel/cpu.ReLUMask) over x's length.
func (b *Backend) ReLUMask(dst, x, src *Buffer) error {
	n := x.n
	if err := needLen("ReLUMask", n, dst, src); err != nil {
		return err
	}
	return b.launch1(kReLUMask, n, args().i64(n).buf(dst).buf(x).buf(src))
}

// ReLUBackwardAcc sets dx += dy where x > 0.
func (b *Backend) ReLUBackwardAcc(dx, x, dy *Buffer) error {
	n := x.n
	if err := needLen("ReLUBackwardAcc", n, dx, dy); err != nil {
		return err
	}
	return b.launch1(kReLUBwdAcc, n, args().i64(n).buf(dx).buf(x).buf(dy))
}

// GELU sets y = float32(x·Φ(x)) (ml Activation "gelu").
func (b *Backend) GELU(y, x *Buffer) error {
	n := x.n
	if err := needLen("GELU", n, y); err != nil {
		return err
	}
	return b.launch1(kGELUFwd, n, args().i64(n).buf(x).buf(y))
}

// GELUBackwardAcc sets dx += float32(dy·GELU'(x)) (zero dx first for a
// fresh gradient, as ml does).
func (b *Backend) GELUBackwardAcc(dx, x, dy *Buffer) error {
	n := x.n
	if err := needLen("GELUBackwardAcc", n, dx, dy); err != nil {
		return err
	}
	return b.launch1(kGELUBwdAcc, n, args().i64(n).buf(dx).buf(x).buf(dy))
}

// TanhBackwardAcc sets dx += float32(dy·(1 - float32(y·y))) from the
// forward output y.
func (b *Backend) TanhBackwardAcc(dx, y, dy *Buffer) error {
	n := y.n
	if err := needLen("TanhBackwardAcc", n, dx, dy); err != nil {
		return err
	}
	return b.launch1(kTanhBwdAcc, n, args().i64(n).buf(dx).buf(y).buf(dy))
}

// DropoutForward sets y = mask != 0 ? float32(x·mask) : +0; mask holds
// 1/(1-P) for kept elements (drawn on the host from ml's RNG) and 0 for
// dropped ones. Backward is MulAcc(dx, dy, mask).
func (b *Backend) DropoutForward(y, x, mask *Buffer) error {
	n := x.n
	if err := needLen("DropoutForward", n, y, mask); err != nil {
		return err
	}
	return b.launch1(kDropoutFwd, n, args().i64(n).buf(y).buf(x).buf(mask))
}

// ---------------------------------------------------------------- optimizers

// SGD sets w -= float32(lr·g) (no momentum, no weight decay).
func (b *Backend) SGD(w, g *Buffer, lr float32) error {
	n := w.n
	if err := needLen("SGD", n, g); err != nil {
		return err
	}
	return b.launch1(kSGD, n, args().i64(n).buf(w).buf(g).f32(lr))
}

// SGDMomentum is accel/cpu.SGDMomentum: v = float32(mu·v) + g;
// w -= float32(lr·v).
func (b *Backend) SGDMomentum(w, v, g *Buffer, lr, mu float32) error {
	n := w.n
	if err := needLen("SGDMomentum", n, v, g); err != nil {
		return err
	}
	return b.launch1(kSGDMomentum, n, args().i64(n).buf(w).buf(v).buf(g).f32(lr).f32(mu))
}

// SGDWeightDecay is ml.SGD.Step with weight decay: d = g + float32(wd·w);
// with momentum (v not nil) d = float32(mu·v) + d, v = d; w -= float32(lr·d).
func (b *Backend) SGDWeightDecay(w, v, g *Buffer, lr, mu, wd float32) error {
	n := w.n
	if err := needLen("SGDWeightDecay", n, g); err != nil {
		return err
	}
	if v != nil {
		if err := needLen("SGDWeightDecay", n, v); err != nil {
			return err
		}
	}
	return b.launch1(kSGDWD, n, args().i64(n).buf(w).buf(v).buf(g).f32(lr).f32(mu).f32(wd))
}

// AdamStep holds the per-step scalars of ml.Adam.Step, computed on the host
// exactly as ml does (see NewAdamStep).
type AdamStep struct {
	Step, SBC2, Eps, Beta1, Beta2, OneMinusB1, OneMinusB2, WeightDecay, Decay float32
	Decoupled                                                                 bool
}

// NewAdamStep computes the scalars of ml.Adam.Step for the running
// products b1t = β1ᵗ and b2t = β2ᵗ (float64, after this step's update).
func NewAdamStep(lr, beta1, beta2, eps, wd float32, decoupled bool, b1t, b2t float64) AdamStep {
	bc1 := float32(1 - b1t)
	return AdamStep{
		Step: lr / bc1, SBC2: canon.Sqrt32(float32(1 - b2t)), Eps: eps, Beta1: beta1, Beta2: beta2,
		OneMinusB1: 1 - beta1, OneMinusB2: 1 - beta2, WeightDecay: wd, Decay: float32(lr * wd), Decoupled: decoupled,
	}
}

// Adam applies one Adam/AdamW step to one parameter tensor.
func (b *Backend) Adam(w, g, m, v *Buffer, s AdamStep) error {
	n := w.n
	if err := needLen("Adam", n, g, m, v); err != nil {
		return err
	}
	return b.launch1(kAdam, n, args().i64(n).buf(w).buf(g).buf(m).buf(v).
		f32(s.Step).f32(s.SBC2).f32(s.Eps).f32(s.Beta1).f32(s.Beta2).f32(s.OneMinusB1).f32(s.OneMinusB2).
		f32(s.WeightDecay).f32(s.Decay).i32(bool01(s.Decoupled)))
}

// ---------------------------------------------------------------- reductions

// treeDepth is the smallest D with ceil(n/2^D) <= 16: the depth of
// canon.Sum's deepest leaves.
func treeDepth(n int) int {
	d := 0
	for (n+(1<<d)-1)>>d > 16 {
		d++
	}
	return d
}

// SumRows sets out[r] = canon.Sum(x[r*ldx : r*ldx+n]) for r < rows. The
// tree's scratch (rows·2^D values) stays allocated on the backend, grown
// as needed, until Close: freeing it after each sum would wait for the
// device every time.
func (b *Backend) SumRows(out, x *Buffer, rows, n, ldx int) error {
	return b.treeSum("SumRows", out, x, nil, rows, n, ldx)
}

// SumSqRows sets out[r] = canon.SumSq(x[r*ldx : r*ldx+n], mean[r]).
func (b *Backend) SumSqRows(out, x, mean *Buffer, rows, n, ldx int) error {
	if err := needLen("SumSqRows", rows, mean); err != nil {
		return err
	}
	return b.treeSum("SumSqRows", out, x, mean, rows, n, ldx)
}

func (b *Backend) treeSum(op string, out, x, mean *Buffer, rows, n, ldx int) error {
	if rows == 0 {
		return nil
	}
	if rows > 65535 {
		return fmt.Errorf("cuda.%s: %d rows, at most 65535", op, rows)
	}
	if n > 0 && (ldx < n || x.n < (rows-1)*ldx+n) {
		return fmt.Errorf("cuda.%s: x has %d values, needs %d rows of %d with stride %d", op, x.n, rows, n, ldx)
	}
	if err := needLen(op, rows, out); err != nil {
		return err
	}
	d := treeDepth(n)
	b.mu.Lock()
	defer b.mu.Unlock()
	// The scratch is kept between sums (the lock is held until the
	// launches are queued, and the device runs them in order).
	if b.tree == nil || b.tree.n < rows<<d {
		if b.tree != nil {
			b.freeLocked(b.tree)
			b.tree = nil
		}
		t, err := b.allocLocked(op+" tree", rows<<d)
		if err != nil {
			return err
		}
		b.tree = t
	}
	val := b.tree
	width := func(depth int) uint32 { return uint32((1<<depth + threadsPerBlock - 1) / threadsPerBlock) }
	if err := b.launchLocked(kTreeLeaves, [3]uint32{width(d), uint32(rows), 1}, block1,
		args().i32(rows).i64(n).i32(d).buf(x).i64(ldx).buf(mean).buf(val)); err != nil {
		return err
	}
	for depth := d - 1; depth >= 0; depth-- {
		if err := b.launchLocked(kTreeLevel, [3]uint32{width(depth), uint32(rows), 1}, block1,
			args().i32(rows).i64(n).i32(d).i32(depth).buf(val)); err != nil {
			return err
		}
	}
	return b.launchLocked(kTreeGather, grid1(rows), block1, args().i32(rows).i32(d).buf(val).buf(out))
}

// ColSum sets dst[j] = sequential sum from +0 over rows of m[i, j] (ml
// colSum; Linear's bias gradient).
func (b *Backend) ColSum(dst, m *Buffer, rows, cols int) error {
	if err := needLen("ColSum", rows*cols, m); err != nil {
		return err
	}
	if err := needLen("ColSum", cols, dst); err != nil {
		return err
	}
	return b.launch1(kColSum, cols, args().i32(rows).i32(cols).buf(m).buf(dst))
}

// RowSumAcc sets dst[r] += (sequential sum from +0 of m[r, 0..cols-1])
// (Conv2d's bias gradient on the [Cout, N·P] layout).
func (b *Backend) RowSumAcc(dst, m *Buffer, rows, cols int) error {
	if err := needLen("RowSumAcc", rows*cols, m); err != nil {
		return err
	}
	if err := needLen("RowSumAcc", rows, dst); err != nil {
		return err
	}
	return b.launch1(kRowSumAcc, rows, args().i32(rows).i64(cols).buf(m).buf(dst))
}

// ---------------------------------------------------------------- loss

// SoftmaxXentForward is ml.SoftmaxCrossEntropy's forward for logits
// [n, k] and int32 labels in [0, k) (checked by the caller): prob [n, k]
// and the per-row losses; the mean loss is SumRows(loss)/float32(n).
func (b *Backend) SoftmaxXentForward(prob, loss, logits, labels *Buffer, n, k int) error {
	if err := needLen("SoftmaxXentForward", n*k, logits, prob); err != nil {
		return err
	}
	if err := needLen("SoftmaxXentForward", n, labels, loss); err != nil {
		return err
	}
	if k < 1 {
		return fmt.Errorf("cuda.SoftmaxXentForward: k = %d", k)
	}
	return b.launch1(kXentFwd, n, args().i32(n).i32(k).buf(logits).buf(labels).buf(prob).buf(loss))
}

// SoftmaxXentBackward sets dx += float32((prob - [j = label])·g) with
// g = float32(grad/float32(n)) from the host.
func (b *Backend) SoftmaxXentBackward(dx, prob, labels *Buffer, n, k int, g float32) error {
	if err := needLen("SoftmaxXentBackward", n*k, dx, prob); err != nil {
		return err
	}
	if err := needLen("SoftmaxXentBackward", n, labels); err != nil {
		return err
	}
	return b.launch1(kXentBwd, n*k, args().i32(n).i32(k).buf(prob).buf(labels).f32(g).buf(dx))
}

// ---------------------------------------------------------------- convolution and pooling

// ConvGeom is the geometry of ml.Conv2d on a batch: N samples of Cin x H x W,
// kernel K, stride S, padding P; OH, OW follow.
type ConvGeom struct{ N, Cin, H, W, K, S, P int }

// Out returns the output height and width.
func (g ConvGeom) Out() (oh, ow int) { return (g.H+2*g.P-g.K)/g.S + 1, (g.W+2*g.P-g.K)/g.S + 1 }

// ColLen is the number of values of the columns matrix (Cin·K·K rows of
// N·OH·OW).
func (g ConvGeom) ColLen() int {
	oh, ow := g.Out()
	return g.Cin * g.K * g.K * g.N * oh * ow
}

func (g ConvGeom) args() *launchArgs {
	oh, ow := g.Out()
	return args().i32(g.N).i32(g.Cin).i32(g.H).i32(g.W).i32(g.K).i32(g.S).i32(g.P).i32(oh).i32(ow)
}

func (g ConvGeom) check(op string) error {
	oh, ow := g.Out()
	if g.N < 0 || g.Cin < 1 || g.K < 1 || g.S < 1 || g.P < 0 || oh < 1 || ow < 1 {
		return fmt.Errorf("cuda.%s: bad geometry %+v", op, g)
	}
	return nil
}

// Im2col writes the columns of x [N, Cin, H, W] (ml Conv2d.im2col for all
// samples: rows (c, ki, kj), columns (n, oy, ox)).
func (b *Backend) Im2col(col, x *Buffer, g ConvGeom) error {
	if err := g.check("Im2col"); err != nil {
		return err
	}
	if err := needLen("Im2col", g.N*g.Cin*g.H*g.W, x); err != nil {
		return err
	}
	if err := needLen("Im2col", g.ColLen(), col); err != nil {
		return err
	}
	return b.launch1(kIm2col, g.ColLen(), g.args().buf(x).buf(col))
}

// Col2imAcc adds the columns back into dx [N, Cin, H, W] (ml
// Conv2d.col2im, accumulating into the existing gradient).
func (b *Backend) Col2imAcc(dx, col *Buffer, g ConvGeom) error {
	if err := g.check("Col2imAcc"); err != nil {
		return err
	}
	n := g.N * g.Cin * g.H * g.W
	if err := needLen("Col2imAcc", n, dx); err != nil {
		return err
	}
	if err := needLen("Col2imAcc", g.ColLen(), col); err != nil {
		return err
	}
	return b.launch1(kCol2imAcc, n, g.args().buf(col).buf(dx))
}

// NCHWToCNHW sets y[c, s·sp+i] = x[s, c, i] for x [n, c, sp].
func (b *Backend) NCHWToCNHW(y, x *Buffer, n, c, sp int) error {
	if err := needLen("NCHWToCNHW", n*c*sp, x, y); err != nil {
		return err
	}
	return b.launch1(kNCHWToCNHW, n*c*sp, args().i32(n).i32(c).i64(sp).buf(x).buf(y))
}

// CNHWToNCHWBias sets y[s, c, i] = x[c, s·sp+i] + bias[c] (Conv2d's output).
func (b *Backend) CNHWToNCHWBias(y, x, bias *Buffer, n, c, sp int) error {
	if err := needLen("CNHWToNCHWBias", n*c*sp, x, y); err != nil {
		return err
	}
	if err := needLen("CNHWToNCHWBias", c, bias); err != nil {
		return err
	}
	return b.launch1(kCNHWToNCHWBias, n*c*sp, args().i32(n).i32(c).i64(sp).buf(x).buf(bias).buf(y))
}

// PoolGeom is ml.Pool2d on Planes = N·C planes of H x W, or with padding
// P > 0 ml.MaxPool (max only: padded positions never win).
type PoolGeom struct {
	Avg                   bool
	Planes, H, W, K, S, P int
}

// Out returns the output height and width.
func (g PoolGeom) Out() (oh, ow int) { return (g.H+2*g.P-g.K)/g.S + 1, (g.W+2*g.P-g.K)/g.S + 1 }

func (g PoolGeom) args() *launchArgs {
	oh, ow := g.Out()
	return args().i32(bool01(g.Avg)).i32(g.Planes).i32(g.H).i32(g.W).i32(g.K).i32(g.S).i32(oh).i32(ow)
}

// Pool2dForward is ml.Pool2d's forward; arg (int32 plane indices, max
// pooling only) may be nil for average pooling.
func (b *Backend) Pool2dForward(y, arg, x *Buffer, g PoolGeom) error {
	oh, ow := g.Out()
	if g.K < 1 || g.S < 1 || g.P < 0 || g.P >= g.K || g.H+2*g.P < g.K || g.W+2*g.P < g.K || g.P > 0 && g.Avg {
		return fmt.Errorf("cuda.Pool2dForward: bad geometry %+v", g)
	}
	if err := needLen("Pool2dForward", g.Planes*g.H*g.W, x); err != nil {
		return err
	}
	if err := needLen("Pool2dForward", g.Planes*oh*ow, y); err != nil {
		return err
	}
	if !g.Avg {
		if err := needLen("Pool2dForward", g.Planes*oh*ow, arg); err != nil {
			return err
		}
	}
	if g.P > 0 {
		return b.launch1(kMaxPoolPadFwd, g.Planes*oh*ow, args().i32(g.Planes).i32(g.H).i32(g.W).i32(g.K).i32(g.S).i32(g.P).i32(oh).i32(ow).
			buf(x).buf(y).buf(arg))
	}
	return b.launch1(kPool2dFwd, g.Planes*oh*ow, g.args().buf(x).buf(y).buf(arg))
}

// Pool2dBackward adds dy into dx like ml.Pool2d's (and ml.MaxPool's)
// backward.
func (b *Backend) Pool2dBackward(dx, dy, arg *Buffer, g PoolGeom) error {
	oh, ow := g.Out()
	if g.P > 0 && g.Avg {
		return fmt.Errorf("cuda.Pool2dBackward: bad geometry %+v", g)
	}
	if err := needLen("Pool2dBackward", g.Planes*g.H*g.W, dx); err != nil {
		return err
	}
	if err := needLen("Pool2dBackward", g.Planes*oh*ow, dy); err != nil {
		return err
	}
	if !g.Avg {
		if err := needLen("Pool2dBackward", g.Planes*oh*ow, arg); err != nil {
			return err
		}
	}
	return b.launch1(kPool2dBwd, g.Planes, g.args().buf(dy).buf(arg).buf(dx))
}

// ---------------------------------------------------------------- normalisation

// NormGeom is ml.Norm's layout: Groups groups of M values; BatchNorm has
// Groups = C channels and SP spatial positions per sample (element (g, i)
// at ((i/SP)·C + g)·SP + i%SP); LayerNorm has SP = 0 (element at g·M + i).
type NormGeom struct {
	Groups, M, C, SP int
}

// BatchNormGeom is the geometry of BatchNorm over x [n, c, sp...].
func BatchNormGeom(n, c, sp int) NormGeom { return NormGeom{Groups: c, M: n * sp, C: c, SP: sp} }

// LayerNormGeom is the geometry of LayerNorm over rows of d values.
func LayerNormGeom(rows, d int) NormGeom { return NormGeom{Groups: rows, M: d, C: 0, SP: 0} }

func (g NormGeom) args() *launchArgs { return args().i32(g.Groups).i64(g.M).i32(g.C).i64(g.SP) }

// NormGather sets v[g, i] = x[element (g, i)] (the per-group buffer ml
// sums with canon.Sum).
func (b *Backend) NormGather(v, x *Buffer, g NormGeom) error {
	n := g.Groups * g.M
	if err := needLen("NormGather", n, v, x); err != nil {
		return err
	}
	return b.launch1(kNormGather, n, g.args().buf(x).buf(v))
}

// NormStage selects what NormStats computes.
type NormStage int

const (
	// NormMean turns per-group sums (in a) into means: a = a/m.
	NormMean NormStage = 0
	// NormVar turns per-group SumSq (in a) into var = a/m and
	// rstd = 1/Sqrt32(var + eps).
	NormVar NormStage = 1
	// NormRunning sets rstd = 1/Sqrt32(a + eps) from running variances a.
	NormRunning NormStage = 2
)

// NormStats applies one NormStage to groups values (mf = float32(m)).
func (b *Backend) NormStats(stage NormStage, a, variance, rstd *Buffer, groups int, mf, eps float32) error {
	if err := needLen("NormStats", groups, a); err != nil {
		return err
	}
	if stage != NormMean {
		if err := needLen("NormStats", groups, rstd); err != nil {
			return err
		}
	}
	if stage == NormVar {
		if err := needLen("NormStats", groups, variance); err != nil {
			return err
		}
	}
	return b.launch1(kNormStats, groups, args().i32(groups).i32(int(stage)).f32(mf).f32(eps).buf(a).buf(variance).buf(rstd))
}

// BatchNormRunning updates the running statistics like ml (momentum mom,
// m values per channel).
func (b *Backend) BatchNormRunning(rmean, rvar, mean, variance *Buffer, c, m int, mom float32) error {
	if err := needLen("BatchNormRunning", c, rmean, rvar, mean, variance); err != nil {
		return err
	}
	return b.launch1(kBNRunning, c, args().i32(c).f32(mom).f32(float32(m)).f32(float32(m-1)).i32(m).
		buf(mean).buf(variance).buf(rmean).buf(rvar))
}

// NormApply is ml.Norm's forward given per-group mean and rstd: xhat and y
// in x's layout.
func (b *Backend) NormApply(y, xhat, x, mean, rstd, gamma, beta *Buffer, g NormGeom) error {
	n := g.Groups * g.M
	if err := needLen("NormApply", n, y, xhat, x); err != nil {
		return err
	}
	if err := needLen("NormApply", g.Groups, mean, rstd); err != nil {
		return err
	}
	pn := g.M
	if g.SP > 0 {
		pn = g.Groups
	}
	if err := needLen("NormApply", pn, gamma, beta); err != nil {
		return err
	}
	return b.launch1(kNormApply, n, g.args().buf(x).buf(mean).buf(rstd).buf(gamma).buf(beta).buf(xhat).buf(y))
}

// NormBackwardPrep writes gbuf = float32(dy·γ) (dy itself when gamma is
// nil) and gx = float32(gbuf·xhat) in the gathered [Groups, M] layout.
func (b *Backend) NormBackwardPrep(gbuf, gx, dy, xhat, gamma *Buffer, g NormGeom) error {
	n := g.Groups * g.M
	if err := needLen("NormBackwardPrep", n, gbuf, gx, dy, xhat); err != nil {
		return err
	}
	return b.launch1(kNormBwdPrep, n, g.args().buf(dy).buf(xhat).buf(gamma).buf(gbuf).buf(gx))
}

// NormBackwardDx adds ml.Norm's input gradient into dx (x's layout) from
// gbuf and the per-group sums sg = Σgbuf and sgx = Σgx.
func (b *Backend) NormBackwardDx(dx, rstd, gbuf, xhat, sg, sgx *Buffer, g NormGeom) error {
	n := g.Groups * g.M
	if err := needLen("NormBackwardDx", n, dx, gbuf, xhat); err != nil {
		return err
	}
	if err := needLen("NormBackwardDx", g.Groups, rstd, sg, sgx); err != nil {
		return err
	}
	return b.launch1(kNormBwdDx, n, g.args().f32(float32(g.M)).buf(rstd).buf(gbuf).buf(xhat).buf(sg).buf(sgx).buf(dx))
}

// LayerNormParamGrad adds LayerNorm's dγ and dβ (sequential over rows).
func (b *Backend) LayerNormParamGrad(dgam, dbet, dy, xhat *Buffer, rows, d int) error {
	if err := needLen("LayerNormParamGrad", rows*d, dy, xhat); err != nil {
		return err
	}
	if err := needLen("LayerNormParamGrad", d, dgam, dbet); err != nil {
		return err
	}
	return b.launch1(kLNParamGrad, d, args().i32(rows).i32(d).buf(dy).buf(xhat).buf(dgam).buf(dbet))
}
