package ml

import "github.com/pouw/pouwd/accel/canon"

// bnScratch is BatchNorm's reusable state of the fast path: the output,
// the normalised values, 1/std per channel and per-worker gather buffers.
type bnScratch struct {
	out   *Tensor
	xhat  []float32
	rstds []float32
	bufs  [][]float32
}

// batchNormForward is Norm.Forward for BatchNorm: the same values in the
// same order as the generic path (each channel's elements gathered in
// (n, position) order, the same canon.Sum / SumSq trees and the same
// per-element expressions), with the gather done by plane copies and the
// channels split over the backend's threads (a channel's outputs, running
// statistics and gradients are written by one worker only, so the thread
// count never changes a bit).
func (l *Norm) batchNormForward(c *Ctx, x *Tensor) *Tensor {
	n, C := x.Shape[0], l.C
	sp := len(x.Data) / (n * C)
	m := n * sp
	mf := float32(m)
	s := &l.bn
	y := outTensor(&s.out, x.Shape...)
	xhat := reuse(&s.xhat, len(x.Data))
	rstds := reuse(&s.rstds, C)
	workers := 1
	if c.Backend != nil {
		workers = min(max(1, c.Backend.Threads()), C)
	}
	if len(s.bufs) < 2*workers {
		s.bufs = make([][]float32, 2*workers)
	}
	for w := range s.bufs {
		reuse(&s.bufs[w], m)
	}
	gamma, beta := l.Gamma.T.Data, l.Beta.T.Data
	update := c.Train && c.Tape != nil
	split := func(f func(g int, v, u []float32)) {
		c.parallelFor(workers, func(lo, hi int) {
			for w := lo; w < hi; w++ {
				v, u := s.bufs[2*w][:m], s.bufs[2*w+1][:m]
				for g := C * w / workers; g < C*(w+1)/workers; g++ {
					f(g, v, u)
				}
			}
		})
	}
	split(func(g int, v, _ []float32) {
		var mean, rstd float32
		if c.Train {
			for si := 0; si < n; si++ {
				copy(v[si*sp:(si+1)*sp], x.Data[(si*C+g)*sp:(si*C+g+1)*sp])
			}
			mean = canon.Sum(v) / mf
			vr := canon.SumSq(v, mean) / mf
			rstd = 1 / canon.Sqrt32(vr+l.Eps)
			if update {
				unb := vr
				if m > 1 {
					unb = float32(vr*mf) / float32(m-1)
				}
				rm, rv := &l.RMean.T.Data[g], &l.RVa.T.Data[g]
				*rm = float32((1-l.Mom)**rm) + float32(l.Mom*mean)
				*rv = float32((1-l.Mom)**rv) + float32(l.Mom*unb)
			}
		} else {
			mean = l.RMean.T.Data[g]
			rstd = 1 / canon.Sqrt32(l.RVa.T.Data[g]+l.Eps)
		}
		rstds[g] = rstd
		gm, bt := gamma[g], beta[g]
		for si := 0; si < n; si++ {
			lo := (si*C + g) * sp
			xs, xh, ys := x.Data[lo:lo+sp], xhat[lo:lo+sp], y.Data[lo:lo+sp]
			for i, xv := range xs {
				h := float32((xv - mean) * rstd)
				xh[i] = h
				ys[i] = float32(h*gm) + bt
			}
		}
	})
	c.record(y, []*Tensor{x, l.Gamma.T, l.Beta.T}, func() {
		dgam, dbet := l.Gamma.T.grad(), l.Beta.T.grad()
		var dx []float32
		if x.needGrad {
			dx = x.grad()
		}
		dy := y.Grad
		split(func(g int, gbuf, gx []float32) {
			for si := 0; si < n; si++ {
				lo := (si*C + g) * sp
				d, xh := dy[lo:lo+sp], xhat[lo:lo+sp]
				copy(gbuf[si*sp:(si+1)*sp], d)
				gq := gx[si*sp : (si+1)*sp]
				for i, dv := range d {
					gq[i] = float32(dv * xh[i])
				}
			}
			dbet[g] += canon.Sum(gbuf)
			dgam[g] += canon.Sum(gx)
			if dx == nil {
				return
			}
			gm := gamma[g]
			for si := 0; si < n; si++ {
				lo := (si*C + g) * sp
				d, xh := dy[lo:lo+sp], xhat[lo:lo+sp]
				gb, gq := gbuf[si*sp:(si+1)*sp], gx[si*sp:(si+1)*sp]
				for i, dv := range d {
					gv := float32(dv * gm)
					gb[i] = gv
					gq[i] = float32(gv * xh[i])
				}
			}
			sg, sgx := canon.Sum(gbuf), canon.Sum(gx)
			f := float32(rstds[g] / mf)
			for si := 0; si < n; si++ {
				lo := (si*C + g) * sp
				xh, gb, dq := xhat[lo:lo+sp], gbuf[si*sp:(si+1)*sp], dx[lo:lo+sp]
				for i, gv := range gb {
					dq[i] += float32(f * (float32(mf*gv) - sg - float32(xh[i]*sgx)))
				}
			}
		})
	})
	return y
}

// zeroShort sets the (few: padding columns) elements of s to +0 without a
// runtime memclr call.
func zeroShort(s []float32) {
	for j := 0; j < len(s); j++ {
		s[j] = 0
	}
}

// zeroCols sets columns [0, x0) and [x1, w) of rows [y0, y1) of the
// row-major w-wide matrix m to +0 (the padding columns of a "same"
// convolution), one strided pass per column.
func zeroCols(m []float32, w, y0, y1, x0, x1 int) {
	end := y1 * w
	for c := 0; c < x0; c++ {
		for i := y0*w + c; i < end; i += w {
			m[i] = 0
		}
	}
	for c := x1; c < w; c++ {
		for i := y0*w + c; i < end; i += w {
			m[i] = 0
		}
	}
}
