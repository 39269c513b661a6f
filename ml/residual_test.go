package ml

import (
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
)

// TestResidualGradients checks the Residual block (a tensor feeding two
// paths whose outputs are added) against float64 finite differences:
// an identity shortcut, a 1x1 stride-2 projection shortcut with
// BatchNorm (ResNet's option B) and a bottleneck block, plus the pooling
// layers of the ResNet stem and head.
func TestResidualGradients(t *testing.T) {
	basicID := &Residual{Main: []Layer{
		NewConv2dNoBias("c1", 2, 2, 3, 1, 1, 1, 1), NewBatchNorm("b1", 2), &Activation{Kind: "relu"},
		NewConv2dNoBias("c2", 2, 2, 3, 1, 1, 1, 2), NewBatchNorm("b2", 2),
	}}
	basicProj := &Residual{Main: []Layer{
		NewConv2dNoBias("c1", 2, 3, 3, 2, 1, 1, 3), NewBatchNorm("b1", 3), &Activation{Kind: "relu"},
		NewConv2dNoBias("c2", 3, 3, 3, 1, 1, 1, 4), NewBatchNorm("b2", 3),
	}, Shortcut: []Layer{NewConv2dNoBias("d0", 2, 3, 1, 2, 0, 1, 5), NewBatchNorm("d1", 3)}}
	bottleneck := newBottleneck("blk", 4, 2, 2, 1, 10)
	withBias := &Residual{Main: []Layer{NewConv2d("c", 2, 2, 3, 1, 1, 1, 7)}}
	for _, tc := range []struct {
		name  string
		layer Layer
		x     *Tensor
	}{
		{"residual/identity", basicID, randInput(31, 3, 2, 4, 4)},
		{"residual/projection", basicProj, randInput(32, 3, 2, 4, 4)},
		{"residual/bottleneck", bottleneck, randInput(33, 2, 4, 4, 4)},
		{"residual/conv-bias", withBias, randInput(34, 2, 2, 3, 3)},
		{"globalavgpool", &GlobalAvgPool{}, randInput(35, 2, 3, 3, 3)},
		{"maxpool3x3/s2/p1", &MaxPool{K: 3, S: 2, P: 1}, randInput(36, 2, 2, 5, 5)},
	} {
		t.Run(tc.name, func(t *testing.T) { gradCheckStep(t, tc.name, tc.layer, tc.x, true, 1e-3) })
	}
}

// TestResidualGradientOrder pins the documented accumulation order: with
// an identity shortcut, x's gradient is the shortcut's contribution (the
// masked output gradient) plus the main path's, added in that order.
func TestResidualGradientOrder(t *testing.T) {
	main := NewConv2dNoBias("c", 1, 1, 1, 1, 0, 1, 1)
	main.W.T.Data[0] = 0.5
	r := &Residual{Main: []Layer{main}}
	x, _ := FromData([]float32{1, 2, 3, 4}, 1, 1, 2, 2)
	x.needGrad = true
	c := &Ctx{Backend: cpu.MustNew(cpu.Options{Threads: 1}), Tape: &Tape{}, Train: true}
	y := r.Forward(c, x)
	if err := c.Tape.BackwardFrom(y, []float32{1, 1e-8, 3, 1}); err != nil {
		t.Fatal(err)
	}
	for i, dy := range []float32{1, 1e-8, 3, 1} {
		want := dy + float32(0.5*dy)
		if x.Grad[i] != want {
			t.Fatalf("dx[%d] = %v, want %v", i, x.Grad[i], want)
		}
	}
}
