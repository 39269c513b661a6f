package ml

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
)

// gradCheck compares the tape's gradients of f = Σ r·y (r fixed random)
// with respect to the input and every trainable parameter against central
// finite differences of f evaluated in float64 from the float32 outputs.
func gradCheck(t *testing.T, name string, layer Layer, x *Tensor, train bool) {
	t.Helper()
	gradCheckStep(t, name, layer, x, train, 1e-2)
}

// gradCheckStep is gradCheck with finite difference step h (a smaller step
// for blocks with ReLU kinks inside, e.g. Residual).
func gradCheckStep(t *testing.T, name string, layer Layer, x *Tensor, train bool, h float64) {
	t.Helper()
	be := cpu.MustNew(cpu.Options{Threads: 1})
	r := rand.New(rand.NewPCG(11, 12))
	forward := func() *Tensor {
		c := &Ctx{Backend: be, Train: train, Seed: 5, Step: 3}
		return layer.Forward(c, x)
	}
	y0 := forward()
	rv := make([]float32, y0.Numel())
	for i := range rv {
		rv[i] = float32(r.NormFloat64())
	}
	f := func() float64 {
		y := forward()
		var s float64
		for i, v := range y.Data {
			s += float64(v) * float64(rv[i])
		}
		return s
	}
	// Analytic gradients.
	x.needGrad = true
	x.Grad = nil
	for _, p := range layer.Params() {
		p.T.Grad = nil
	}
	tape := &Tape{}
	c := &Ctx{Backend: be, Tape: tape, Train: train, Seed: 5, Step: 3}
	y := layer.Forward(c, x)
	if err := tape.BackwardFrom(y, rv); err != nil {
		t.Fatal(err)
	}
	check := func(what string, data, grad []float32) {
		for i := range data {
			old := data[i]
			data[i] = old + float32(h)
			fp := f()
			data[i] = old - float32(h)
			fm := f()
			data[i] = old
			num := (fp - fm) / (2 * h)
			got := float64(grad[i])
			if math.Abs(got-num) > 2e-2*math.Max(1, math.Abs(num)) {
				t.Fatalf("%s: d/d%s[%d] = %g, finite difference %g", name, what, i, got, num)
			}
		}
	}
	check("x", x.Data, x.Grad)
	for _, p := range layer.Params() {
		if !p.Buffer {
			check(p.Name, p.T.Data, p.T.Grad)
		}
	}
}

// randInput draws values away from 0 (ReLU kink) and pairwise distinct
// enough that max pooling does not switch under the finite difference step.
func randInput(seed uint64, shape ...int) *Tensor {
	r := rand.New(rand.NewPCG(seed, 99))
	t := NewTensor(shape...)
	perm := r.Perm(len(t.Data))
	for i := range t.Data {
		v := 0.1 + 2*float32(perm[i])/float32(len(t.Data))
		if r.IntN(2) == 0 {
			v = -v
		}
		t.Data[i] = v
	}
	return t
}

func TestGradients(t *testing.T) {
	norm4 := NewBatchNorm("bn", 3)
	norm4.Gamma.T.Data[1] = 1.5
	ln := NewLayerNorm("ln", 6)
	ln.Beta.T.Data[2] = 0.3
	for _, tc := range []struct {
		name  string
		layer Layer
		x     *Tensor
		train bool
	}{
		{"linear", NewLinear("fc", 5, 4, 1, 0), randInput(1, 3, 5), true},
		{"conv3x3/pad1", NewConv2d("c", 2, 3, 3, 1, 1, 1, 1), randInput(2, 2, 2, 5, 5), true},
		{"conv2x2/stride2", NewConv2d("c", 2, 2, 2, 2, 0, 1, 2), randInput(3, 2, 2, 6, 6), true},
		{"maxpool", &Pool2d{K: 2, S: 2}, randInput(4, 2, 2, 4, 4), true},
		{"avgpool", &Pool2d{Avg: true, K: 2, S: 2}, randInput(5, 2, 2, 4, 4), true},
		{"batchnorm/4d", norm4, randInput(6, 4, 3, 2, 2), true},
		{"batchnorm/2d", NewBatchNorm("bn2", 5), randInput(7, 6, 5), true},
		{"layernorm", ln, randInput(8, 3, 6), true},
		{"relu", &Activation{Kind: "relu"}, randInput(9, 4, 5), true},
		{"gelu", &Activation{Kind: "gelu"}, randInput(10, 4, 5), true},
		{"tanh", &Activation{Kind: "tanh"}, randInput(11, 4, 5), true},
		{"dropout", &Dropout{P: 0.3, Index: 1}, randInput(12, 4, 5), true},
		{"flatten", &Flatten{}, randInput(13, 2, 2, 3), true},
	} {
		t.Run(tc.name, func(t *testing.T) { gradCheck(t, tc.name, tc.layer, tc.x, tc.train) })
	}
}

func TestEmbeddingGradient(t *testing.T) {
	e := NewEmbedding("emb", 5, 3, 1, 0)
	x, _ := FromData([]float32{1, 4, 1, 0}, 2, 2)
	gradCheckParamsOnly(t, e, x)
}

// gradCheckParamsOnly is gradCheck for layers whose input is not
// differentiable (ids).
func gradCheckParamsOnly(t *testing.T, layer Layer, x *Tensor) {
	t.Helper()
	be := cpu.MustNew(cpu.Options{Threads: 1})
	c := &Ctx{Backend: be, Tape: &Tape{}, Train: true}
	y := layer.Forward(c, x)
	rv := make([]float32, y.Numel())
	for i := range rv {
		rv[i] = float32(i%7) - 3
	}
	if err := c.Tape.BackwardFrom(y, rv); err != nil {
		t.Fatal(err)
	}
	for _, p := range layer.Params() {
		for i := range p.T.Data {
			old := p.T.Data[i]
			eval := func(v float32) float64 {
				p.T.Data[i] = v
				y := layer.Forward(&Ctx{Backend: be}, x)
				var s float64
				for j, o := range y.Data {
					s += float64(o) * float64(rv[j])
				}
				return s
			}
			num := (eval(old+1e-2) - eval(old-1e-2)) / 2e-2
			p.T.Data[i] = old
			if math.Abs(float64(p.T.Grad[i])-num) > 1e-2*math.Max(1, math.Abs(num)) {
				t.Fatalf("%s[%d]: grad %g, finite difference %g", p.Name, i, p.T.Grad[i], num)
			}
		}
	}
}

func TestSoftmaxCrossEntropyGradient(t *testing.T) {
	be := cpu.MustNew(cpu.Options{Threads: 1})
	x := randInput(20, 3, 4)
	labels := []int{0, 3, 2}
	x.needGrad = true
	c := &Ctx{Backend: be, Tape: &Tape{}}
	loss, err := SoftmaxCrossEntropy(c, x, labels)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Tape.Backward(loss); err != nil {
		t.Fatal(err)
	}
	for i := range x.Data {
		old := x.Data[i]
		eval := func(v float32) float64 {
			x.Data[i] = v
			l, _ := SoftmaxCrossEntropy(&Ctx{Backend: be}, x, labels)
			return float64(l.Data[0])
		}
		num := (eval(old+1e-2) - eval(old-1e-2)) / 2e-2
		x.Data[i] = old
		if math.Abs(float64(x.Grad[i])-num) > 2e-3 {
			t.Fatalf("dloss/dx[%d] = %g, finite difference %g", i, x.Grad[i], num)
		}
	}
	if _, err := SoftmaxCrossEntropy(c, x, []int{0, 4, 1}); err == nil {
		t.Fatal("label 4 of 4 classes accepted")
	}
}
