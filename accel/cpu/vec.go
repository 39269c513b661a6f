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
