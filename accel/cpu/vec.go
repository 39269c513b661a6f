package cpu

// SGDMomentum applies one canonical SGD-with-momentum update in place:
// for every i, v[i] = float32(mu*v[i]) + g[i]; w[i] = w[i] - float32(lr*v[i]).
// Each multiply and add is rounded on its own; the vector kernels do the same
// operations per lane, so the bits never depend on the kernel.
func SGDMomentum(w, v, g []float32, lr, mu float32) {
	n := len(w)
	v, g = v[:n], g[:n]
	done := sgdMomentumFast(w, v, g, lr, mu)
	sgdMomentumGo(w[done:], v[done:], g[done:], lr, mu)
}

func sgdMomentumGo(w, v, g []float32, lr, mu float32) {
	v, g = v[:len(w)], g[:len(w)]
	for i, gi := range g {
		vi := float32(mu*v[i]) + gi
		v[i] = vi
		w[i] -= float32(lr * vi)
	}
}

// ReLUMask sets dst[i] = src[i] if x[i] > 0, else +0 (an ordered compare:
// NaN gives 0). ReLU forward is ReLUMask(y, x, x); its backward into a fresh
// gradient is ReLUMask(dx, x, dy).
func ReLUMask(dst, x, src []float32) {
	n := len(dst)
	x, src = x[:n], src[:n]
	done := reluMaskFast(dst, x, src)
	for i := done; i < n; i++ {
		if x[i] > 0 {
			dst[i] = src[i]
		} else {
			dst[i] = 0
		}
	}
}

// MaxPool2Row computes one output row of a 2x2, stride-2 max pool from
// input rows r0 and r1 (r1 follows r0 by w in the plane, r0 starts at plane
// index base0): y[o] is the first maximum, in window order (0,0), (0,1),
// (1,0), (1,1) with strictly-greater replacing, and arg[o] its plane index.
func MaxPool2Row(r0, r1, y []float32, arg []int32, base0, w int) {
	done := maxPool2RowFast(r0, r1, y, arg, base0, w)
	for o := done; o < len(y); o++ {
		i := 2 * o
		best, bi := r0[i], base0+i
		if v := r0[i+1]; v > best {
			best, bi = v, base0+i+1
		}
		if v := r1[i]; v > best {
			best, bi = v, base0+w+i
		}
		if v := r1[i+1]; v > best {
			best, bi = v, base0+w+i+1
		}
		y[o] = best
		arg[o] = int32(bi)
	}
}

// Add sets dst[i] = dst[i] + src[i] for i < len(src) (one float32 addition
// per element, the same bits as the scalar loop).
func Add(dst, src []float32) {
	n := len(src)
	dst = dst[:n]
	done := addFast(dst, src)
	for i := done; i < n; i++ {
		dst[i] += src[i]
	}
}
