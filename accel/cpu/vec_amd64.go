//go:build amd64 && !purego

package cpu

//go:noescape
func sgdMomentumAVX512(w, v, grad *float32, n int, lr, mu float32)

//go:noescape
func sgdMomentumAVX2(w, v, grad *float32, n int, lr, mu float32)

// sgdMomentumFast runs the widest vector kernel on a prefix of the slices
// and returns its length.
func sgdMomentumFast(w, v, g []float32, lr, mu float32) int {
	switch {
	case hasAVX512() && len(w) >= 16:
		n := len(w) &^ 15
		sgdMomentumAVX512(&w[0], &v[0], &g[0], n, lr, mu)
		return n
	case hasAVX2() && len(w) >= 8:
		n := len(w) &^ 7
		sgdMomentumAVX2(&w[0], &v[0], &g[0], n, lr, mu)
		return n
	}
	return 0
}

//go:noescape
func reluMaskAVX512(dst, x, src *float32, n int)

func reluMaskFast(dst, x, src []float32) int {
	if hasAVX512() && len(dst) >= 16 {
		n := len(dst) &^ 15
		reluMaskAVX512(&dst[0], &x[0], &src[0], n)
		return n
	}
	return 0
}

//go:noescape
func maxPool2RowAVX512(r0, r1, y *float32, arg *int32, n int, base0, w int32)

func maxPool2RowFast(r0, r1, y []float32, arg []int32, base0, w int) int {
	if !hasAVX512() || len(y) < 16 || w > 1<<30 {
		return 0
	}
	n := len(y) &^ 15
	_ = r0[2*n-1]
	_ = r1[2*n-1]
	_ = arg[n-1]
	maxPool2RowAVX512(&r0[0], &r1[0], &y[0], &arg[0], n, int32(base0), int32(w))
	return n
}

//go:noescape
func addAVX512(dst, src *float32, n int)

//go:noescape
func addAVX2(dst, src *float32, n int)

func addFast(dst, src []float32) int {
	switch {
	case hasAVX512() && len(dst) >= 16:
		n := len(dst) &^ 15
		addAVX512(&dst[0], &src[0], n)
		return n
	case hasAVX2() && len(dst) >= 8:
		n := len(dst) &^ 7
		addAVX2(&dst[0], &src[0], n)
		return n
	}
	return 0
}
