package ml

import "fmt"

// FLOPs returns the floating-point operations of one sample's forward
// pass, counting 2 per multiply-add of the products that dominate: Linear
// (per token for a per-token Linear), Conv2d, and attention's Q·Kᵀ and P·V.
// Elementwise work, norms and pooling are left out (a few percent on the
// models here). A training step costs about three times this per sample
// (forward, and two products per weight in backward).
func (m *Model) FLOPs() (int64, error) {
	return seqFLOPs(m.Layers, m.InShape)
}

func seqFLOPs(ls []Layer, in []int) (int64, error) {
	var total int64
	shape := in
	for _, l := range ls {
		out, err := l.OutShape(shape)
		if err != nil {
			return 0, err
		}
		switch l := l.(type) {
		case *Linear:
			rows := int64(numel(shape) / l.In)
			total += 2 * rows * int64(l.In) * int64(l.Out)
		case *Conv2d:
			total += 2 * int64(l.Cin*l.K*l.K) * int64(l.Cout) * int64(out[1]*out[2])
		case *Attention:
			t, d := int64(shape[0]), int64(shape[1]/3)
			total += 2 * 2 * t * t * d // Q·Kᵀ and P·V over all heads
		case *Residual:
			for _, path := range [][]Layer{l.Main, l.Shortcut} {
				f, err := seqFLOPs(path, shape)
				if err != nil {
					return 0, err
				}
				total += f
			}
		case *Activation, *Flatten, *Dropout, *Norm, *Pool2d, *MaxPool, *GlobalAvgPool,
			*Embedding, *Positions, *TokenPool, *PatchTokens:
		default:
			return 0, fmt.Errorf("flops: layer %T has no rule", l)
		}
		shape = out
	}
	return total, nil
}
