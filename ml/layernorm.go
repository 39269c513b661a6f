package ml

import "github.com/pouw/pouwd/accel/canon"

// lnScratch is LayerNorm's reusable state: the output, the normalised
// values and 1/std per row.
type lnScratch struct {
	out   *Tensor
	xhat  []float32
	rstds []float32
}

// layerNormForward is Norm.Forward for LayerNorm: the same values as the
// generic definition in conv.go (per row: mean = canon.Sum(row)/m,
// variance = canon.SumSq(row, mean)/m, rstd = 1/Sqrt32(var+eps),
// xhat = float32((x-mean)·rstd), y = float32(xhat·γ)+β; backward per row
// with canon.Sum of float32(dy·γ) and of float32(dy·γ·xhat), and dγ, dβ
// summed over the rows in row order), with rows split over the backend's
// threads in forward and for dx, and columns split for dγ and dβ, so every
// value is written by one worker in the documented order and the thread
// count never changes a bit.
func (l *Norm) layerNormForward(c *Ctx, x *Tensor) *Tensor {
	d := l.C
	rows := len(x.Data) / d
	mf := float32(d)
	s := &l.ln
	y := outTensor(&s.out, x.Shape...)
	xhat := reuse(&s.xhat, len(x.Data))
	rstds := reuse(&s.rstds, rows)
	gamma, beta := l.Gamma.T.Data, l.Beta.T.Data
	c.parallelFor(rows, func(lo, hi int) {
		for g := lo; g < hi; g++ {
			row := x.Data[g*d : (g+1)*d]
			mean := canon.Sum(row) / mf
			rstd := 1 / canon.Sqrt32(canon.SumSq(row, mean)/mf+l.Eps)
			rstds[g] = rstd
			xh, yr := xhat[g*d:(g+1)*d], y.Data[g*d:(g+1)*d]
			for i, v := range row {
				h := float32((v - mean) * rstd)
				xh[i] = h
				yr[i] = float32(h*gamma[i]) + beta[i]
			}
		}
	})
	c.record(y, []*Tensor{x, l.Gamma.T, l.Beta.T}, func() {
		dy := y.Grad
		dgam, dbet := l.Gamma.T.grad(), l.Beta.T.grad()
		c.parallelFor(d, func(lo, hi int) {
			for g := 0; g < rows; g++ {
				gr, xh := dy[g*d:(g+1)*d], xhat[g*d:(g+1)*d]
				for i := lo; i < hi; i++ {
					dbet[i] += gr[i]
					dgam[i] += float32(gr[i] * xh[i])
				}
			}
		})
		if !x.needGrad {
			return
		}
		dx := x.grad()
		c.parallelFor(rows, func(lo, hi int) {
			gbuf := make([]float32, d)
			gx := make([]float32, d)
			for g := lo; g < hi; g++ {
				gr, xh := dy[g*d:(g+1)*d], xhat[g*d:(g+1)*d]
				for i := range gbuf {
					gbuf[i] = float32(gr[i] * gamma[i])
					gx[i] = float32(gbuf[i] * xh[i])
				}
				sg, sgx := canon.Sum(gbuf), canon.Sum(gx)
				f := float32(rstds[g] / mf)
				dr := dx[g*d : (g+1)*d]
				for i := range dr {
					dr[i] += float32(f * (float32(mf*gbuf[i]) - sg - float32(xh[i]*sgx)))
				}
			}
		})
	})
	return y
}
