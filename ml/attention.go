package ml

import (
	"fmt"

	"github.com/pouw/pouwd/accel/canon"
	"github.com/pouw/pouwd/accel/cpu"
)

// This file holds the Transformer's own layers: multi-head self-attention,
// position encodings, token pooling and the ViT's patch tokens.

// ---------------------------------------------------------------- attention

// Attention is multi-head scaled dot-product self-attention over the
// output of a QKV projection: input [N, T, 3D] holding per token the
// queries, keys and values (each D = Heads·dh wide, head h at columns
// h·dh..(h+1)·dh-1 of its third), output [N, T, D] with head h's result in
// its columns. Per sample and head, canonically:
//
//	raw = Q·Kᵀ (backend GEMM: FMA chain over the dh features in order)
//	S[i,j] = float32(raw[i,j]·scale), scale = 1/Sqrt32(dh) (correctly rounded)
//	allowed j: all (0..T-1), or 0..i when Causal
//	mx = max of S[i,j] over allowed j (first in order)
//	e[j] = Exp32(S[i,j] - mx); s = canon.Sum(e over allowed j)
//	P[i,j] = e[j] / s, and +0 for j not allowed
//	O = P·V (backend GEMM, chain over j = 0..T-1)
//
// Backward, with dO the output gradient:
//
//	dP = dO·Vᵀ; dV = Pᵀ·dO; r[i] = canon.Sum(float32(P[i,j]·dP[i,j]) over allowed j)
//	dS[i,j] = float32(P[i,j]·float32(dP[i,j] - r[i])) (allowed), +0 otherwise
//	dRaw = float32(dS·scale); dQ = dRaw·K; dK = dRawᵀ·Q
//
// Samples and heads are independent (each writes its own rows and
// columns), so they run in parallel without changing a bit.
type Attention struct {
	Heads  int
	Causal bool
	out    *Tensor
	probs  []float32 // [N, Heads, T, T], kept for backward
}

func (*Attention) Params() []*Param { return nil }

func (a *Attention) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[1]%3 != 0 || (in[1]/3)%a.Heads != 0 {
		return nil, fmt.Errorf("attention: input shape %v, expected [T 3·D] with %d heads dividing D", in, a.Heads)
	}
	return []int{in[0], in[1] / 3}, nil
}

// Workspace is the probability matrices kept for backward.
func (a *Attention) Workspace(in []int) int { return a.Heads * in[0] * in[0] }

func (a *Attention) dims(x *Tensor) (n, t, d, dh int) {
	n, t, d = x.Shape[0], x.Shape[1], x.Shape[2]/3
	return n, t, d, d / a.Heads
}

// allowed is the number of keys row i attends to.
func (a *Attention) allowed(i, t int) int {
	if a.Causal {
		return i + 1
	}
	return t
}

func (a *Attention) scale(dh int) float32 { return 1 / canon.Sqrt32(float32(dh)) }

// eachHead runs f over ranges of the (sample, head) pairs [0, pairs):
// split over the backend's threads on a CPU backend (the pairs write
// disjoint outputs), one range on another backend, whose GEMM need not be
// safe for concurrent calls. A range allocates its scratch once.
func eachHead(c *Ctx, pairs int, f func(lo, hi int)) {
	if _, ok := c.Backend.(*cpu.Backend); !ok {
		f(0, pairs)
		return
	}
	c.parallelFor(pairs, f)
}

func (a *Attention) Forward(c *Ctx, x *Tensor) *Tensor {
	n, t, d, dh := a.dims(x)
	h := a.Heads
	y := outTensor(&a.out, n, t, d)
	a.probs = reuse(&a.probs, n*h*t*t)
	scale := a.scale(dh)
	eachHead(c, n*h, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			s, hd := p/h, p%h
			qkv := x.Data[s*t*3*d:]
			pr := a.probs[p*t*t : (p+1)*t*t]
			c.Backend.Gemm(false, true, t, t, dh, qkv[hd*dh:], 3*d, qkv[d+hd*dh:], 3*d, pr, t)
			for i := 0; i < t; i++ {
				row := pr[i*t : (i+1)*t]
				k := a.allowed(i, t)
				mx := float32(row[0] * scale)
				for j := 0; j < k; j++ {
					row[j] = float32(row[j] * scale)
					if row[j] > mx {
						mx = row[j]
					}
				}
				for j := 0; j < k; j++ {
					row[j] -= mx
				}
				canon.Exp32Slice(row[:k], row[:k])
				sum := canon.Sum(row[:k])
				for j := 0; j < k; j++ {
					row[j] /= sum
				}
				clear(row[k:])
			}
			c.Backend.Gemm(false, false, t, dh, t, pr, t, qkv[2*d+hd*dh:], 3*d, y.Data[s*t*d+hd*dh:], d)
		}
	})
	c.record(y, []*Tensor{x}, func() {
		dx, fresh := x.gradDst()
		dst := dx
		if !fresh {
			dst = make([]float32, len(dx))
		}
		eachHead(c, n*h, func(lo, hi int) {
			dp, tmp := make([]float32, t*t), make([]float32, t)
			for p := lo; p < hi; p++ {
				s, hd := p/h, p%h
				qkv := x.Data[s*t*3*d:]
				dq := dst[s*t*3*d:]
				dO := y.Grad[s*t*d+hd*dh:]
				pr := a.probs[p*t*t : (p+1)*t*t]
				c.Backend.Gemm(false, true, t, t, dh, dO, d, qkv[2*d+hd*dh:], 3*d, dp, t)
				c.Backend.Gemm(true, false, t, dh, t, pr, t, dO, d, dq[2*d+hd*dh:], 3*d)
				for i := 0; i < t; i++ {
					k := a.allowed(i, t)
					prow, drow := pr[i*t:(i+1)*t], dp[i*t:(i+1)*t]
					for j := 0; j < k; j++ {
						tmp[j] = float32(prow[j] * drow[j])
					}
					r := canon.Sum(tmp[:k])
					for j := 0; j < k; j++ {
						drow[j] = float32(float32(prow[j]*float32(drow[j]-r)) * scale)
					}
					clear(drow[k:])
				}
				c.Backend.Gemm(false, false, t, dh, t, dp, t, qkv[d+hd*dh:], 3*d, dq[hd*dh:], 3*d)
				c.Backend.Gemm(true, false, t, dh, t, dp, t, qkv[hd*dh:], 3*d, dq[d+hd*dh:], 3*d)
			}
		})
		if !fresh {
			addTo(dx, dst)
		}
	})
	return y
}

// ---------------------------------------------------------------- positions

// Positions adds a position table to token vectors: y[n,t,:] = x[n,t,:] +
// P[t,:] (one float32 addition per element). P is the learned parameter
// pos_emb (T x D), or, when it is not a parameter (Fixed), the sinusoidal
// table of NewSinusoidalPositions. Backward: dx = dy; dP[t,d] is the
// sequential float32 sum of dy[n,t,d] over the samples n in order.
type Positions struct {
	T, D  int
	P     *Param
	Fixed []float32
	out   *Tensor
}

// NewSinusoidalPositions returns the fixed table of Vaswani et al.:
// for pair i = 0..D/2-1, f_i = Exp32(float32(-2i/D)·Log32(10000)) with
// -2i/D a correctly rounded float32 division, a = float32(t·f_i),
// P[t,2i] = sin a, P[t,2i+1] = cos a (canon.SinCos32); an odd D's last
// column is sin of the last frequency.
func NewSinusoidalPositions(t, d int) *Positions {
	tab := make([]float32, t*d)
	l := canon.Log32(10000)
	for i := 0; 2*i < d; i++ {
		f := canon.Exp32(float32(float32(-2*i)/float32(d)) * l)
		for p := 0; p < t; p++ {
			s, co := canon.SinCos32(float32(float32(p) * f))
			tab[p*d+2*i] = s
			if 2*i+1 < d {
				tab[p*d+2*i+1] = co
			}
		}
	}
	return &Positions{T: t, D: d, Fixed: tab}
}

func (p *Positions) Params() []*Param {
	if p.P == nil {
		return nil
	}
	return []*Param{p.P}
}

func (p *Positions) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[0] != p.T || in[1] != p.D {
		return nil, fmt.Errorf("positions: input shape %v, expected [%d %d]", in, p.T, p.D)
	}
	return in, nil
}
func (*Positions) Workspace([]int) int { return 0 }

func (p *Positions) table() []float32 {
	if p.P != nil {
		return p.P.T.Data
	}
	return p.Fixed
}

func (p *Positions) Forward(c *Ctx, x *Tensor) *Tensor {
	y := outTensor(&p.out, x.Shape...)
	tab := p.table()
	m := p.T * p.D
	n := x.Shape[0]
	c.parallelFor(n, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			src, dst := x.Data[s*m:(s+1)*m], y.Data[s*m:(s+1)*m]
			for i, v := range src {
				dst[i] = v + tab[i]
			}
		}
	})
	var inputs []*Tensor
	if p.P != nil {
		inputs = []*Tensor{x, p.P.T}
	} else {
		inputs = []*Tensor{x}
	}
	c.record(y, inputs, func() {
		if x.needGrad {
			passGrad(x, y.Grad)
		}
		if p.P != nil && p.P.T.needGrad {
			dp, fresh := p.P.T.gradDst()
			for s := 0; s < n; s++ {
				g := y.Grad[s*m : (s+1)*m]
				if fresh && s == 0 {
					copy(dp, g)
				} else {
					addTo(dp, g)
				}
			}
		}
	})
	return y
}

// passGrad adds g into t's gradient (copies it when t has none yet).
func passGrad(t *Tensor, g []float32) {
	dst, fresh := t.gradDst()
	if fresh {
		copy(dst, g)
		return
	}
	addTo(dst, g)
}

// ---------------------------------------------------------------- token pooling

// TokenPool maps [N, T, D] to [N, D]: the mean over tokens,
// y[n,d] = canon.Sum(x[n,0..T-1,d]) / T (correctly rounded division), or
// with Last the last token's vector (next-token prediction). Backward:
// dx[n,t,d] = float32(dy[n,d] / T), or dy into the last token and +0
// elsewhere.
type TokenPool struct {
	Last bool
	out  *Tensor
}

func (*TokenPool) Params() []*Param { return nil }
func (*TokenPool) OutShape(in []int) ([]int, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("token pool: input shape %v, expected [T D]", in)
	}
	return []int{in[1]}, nil
}
func (*TokenPool) Workspace([]int) int { return 0 }

func (tp *TokenPool) Forward(c *Ctx, x *Tensor) *Tensor {
	n, t, d := x.Shape[0], x.Shape[1], x.Shape[2]
	y := outTensor(&tp.out, n, d)
	tf := float32(t)
	if tp.Last {
		for s := 0; s < n; s++ {
			copy(y.Data[s*d:(s+1)*d], x.Data[(s*t+t-1)*d:(s*t+t)*d])
		}
	} else {
		c.parallelFor(n, func(lo, hi int) {
			col := make([]float32, t)
			for s := lo; s < hi; s++ {
				for j := 0; j < d; j++ {
					for i := range col {
						col[i] = x.Data[(s*t+i)*d+j]
					}
					y.Data[s*d+j] = canon.Sum(col) / tf
				}
			}
		})
	}
	c.record(y, []*Tensor{x}, func() {
		dx, fresh := x.gradDst()
		for s := 0; s < n; s++ {
			for i := 0; i < t; i++ {
				row := dx[(s*t+i)*d : (s*t+i+1)*d]
				g := y.Grad[s*d : (s+1)*d]
				switch {
				case tp.Last && i < t-1:
					if fresh {
						clear(row)
					}
				case tp.Last:
					if fresh {
						copy(row, g)
					} else {
						addTo(row, g)
					}
				default:
					for j, v := range g {
						if fresh {
							row[j] = v / tf
						} else {
							row[j] += v / tf
						}
					}
				}
			}
		}
	})
	return y
}

// ---------------------------------------------------------------- patch tokens

// PatchTokens turns a ViT's patch embedding [N, D, H, W] into tokens
// [N, H·W, D] (patches in row-major order): a transpose, so backward is
// the transpose back.
type PatchTokens struct{ out *Tensor }

func (*PatchTokens) Params() []*Param { return nil }
func (*PatchTokens) OutShape(in []int) ([]int, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("patch tokens: input shape %v, expected [D H W]", in)
	}
	return []int{in[1] * in[2], in[0]}, nil
}
func (*PatchTokens) Workspace([]int) int { return 0 }

func (pt *PatchTokens) Forward(c *Ctx, x *Tensor) *Tensor {
	n, d, hw := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	y := outTensor(&pt.out, n, hw, d)
	for s := 0; s < n; s++ {
		src, dst := x.Data[s*d*hw:(s+1)*d*hw], y.Data[s*d*hw:(s+1)*d*hw]
		for ch := 0; ch < d; ch++ {
			for p := 0; p < hw; p++ {
				dst[p*d+ch] = src[ch*hw+p]
			}
		}
	}
	c.record(y, []*Tensor{x}, func() {
		dx, fresh := x.gradDst()
		for s := 0; s < n; s++ {
			src, dst := y.Grad[s*d*hw:(s+1)*d*hw], dx[s*d*hw:(s+1)*d*hw]
			for ch := 0; ch < d; ch++ {
				for p := 0; p < hw; p++ {
					if fresh {
						dst[ch*hw+p] = src[p*d+ch]
					} else {
						dst[ch*hw+p] += src[p*d+ch]
					}
				}
			}
		}
	})
	return y
}
