package ml

import (
	"fmt"
	"sync"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
)

// Tensor is a dense row-major float32 tensor with an optional gradient.
type Tensor struct {
	Shape []int
	Data  []float32
	// Grad has the length of Data once a backward pass reaches the tensor;
	// nil for tensors that do not need gradients.
	Grad     []float32
	needGrad bool
	// gradOK is false while Grad holds a previous step's values (after
	// ZeroGrad): the first contribution then overwrites instead of adding.
	// Overwriting x equals adding x to +0 here because no contribution is
	// ever -0 (FMA chains and float32 sums that start from +0 cannot
	// produce -0), so this is only a speed-up.
	gradOK bool
}

// NewTensor returns a zero tensor of the shape.
func NewTensor(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, numel(shape))}
}

// FromData wraps data (not copied) as a tensor of the shape.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	if numel(shape) != len(data) {
		return nil, fmt.Errorf("tensor: shape %v holds %d values, data has %d", shape, numel(shape), len(data))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Numel is the number of elements.
func (t *Tensor) Numel() int { return len(t.Data) }

// NeedsGrad reports whether backward propagates into t.
func (t *Tensor) NeedsGrad() bool { return t.needGrad }

func (t *Tensor) grad() []float32 {
	if t.Grad == nil {
		t.Grad = make([]float32, len(t.Data))
	} else if !t.gradOK {
		clear(t.Grad)
	}
	t.gradOK = true
	return t.Grad
}

// SetGrad makes g's values the tensor's gradient (copied; the gradient is
// allocated when missing): a resident device step (SetResident) hands its
// gradients back this way.
func (t *Tensor) SetGrad(g []float32) error {
	if len(g) != len(t.Data) {
		return fmt.Errorf("tensor: gradient of %d values for a tensor of %d", len(g), len(t.Data))
	}
	if t.Grad == nil {
		t.Grad = make([]float32, len(t.Data))
	}
	copy(t.Grad, g)
	t.gradOK = true
	return nil
}

// gradDst returns the gradient buffer and whether it holds no contribution
// yet, in which case the caller must overwrite every element.
func (t *Tensor) gradDst() ([]float32, bool) {
	fresh := false
	if t.Grad == nil {
		t.Grad = make([]float32, len(t.Data))
		fresh = true
	} else if !t.gradOK {
		fresh = true
	}
	t.gradOK = true
	return t.Grad, fresh
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Ctx carries what a forward pass needs: the backend, the tape that records
// backward closures (nil for inference), the mode and the keys for seeded
// randomness (dropout).
type Ctx struct {
	Backend accel.Backend
	Tape    *Tape
	Train   bool
	Seed    uint64
	Step    uint64
	// prof, when set, times this pass's layers (profile.go).
	prof *profDev
}

// Tape records backward closures in forward order.
type Tape struct {
	ops []func()
}

func (c *Ctx) record(out *Tensor, inputs []*Tensor, back func()) {
	if c.Tape == nil {
		return
	}
	for _, in := range inputs {
		if in != nil && in.needGrad {
			out.needGrad = true
			break
		}
	}
	if out.needGrad {
		if c.prof != nil {
			back = c.prof.wrap(back)
		}
		c.Tape.ops = append(c.Tape.ops, back)
	}
}

// Backward seeds loss (a scalar) with gradient 1 and runs the recorded
// closures in reverse order. Gradients accumulate into Grad with float32
// additions in that fixed order.
func (tp *Tape) Backward(loss *Tensor) error {
	if loss.Numel() != 1 {
		return fmt.Errorf("backward: loss has %d elements, expected a scalar", loss.Numel())
	}
	loss.grad()[0] = 1
	for i := len(tp.ops) - 1; i >= 0; i-- {
		tp.ops[i]()
	}
	tp.ops = tp.ops[:0]
	return nil
}

// Reset drops the recorded closures.
func (tp *Tape) Reset() { tp.ops = tp.ops[:0] }

// addTo adds src into dst elementwise (float32 additions; cpu.Add's vector
// kernel for long slices, the same bits).
func addTo(dst, src []float32) {
	if len(src) >= 32 {
		cpu.Add(dst, src)
		return
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// BackwardFrom runs the recorded closures with out's gradient set to grad
// (any shape), for callers that differentiate a non-scalar output.
func (tp *Tape) BackwardFrom(out *Tensor, grad []float32) error {
	if len(grad) != out.Numel() {
		return fmt.Errorf("backward: gradient has %d elements, output %d", len(grad), out.Numel())
	}
	copy(out.grad(), grad)
	for i := len(tp.ops) - 1; i >= 0; i-- {
		tp.ops[i]()
	}
	tp.ops = tp.ops[:0]
	return nil
}

// outTensor returns the layer's output tensor for this forward pass,
// reusing the storage of the previous pass (a layer appears once per model
// and a step's tape is consumed before the next forward, so nothing live is
// overwritten; a Model is not safe for concurrent use). Data is not
// cleared: every layer writes every output element.
func outTensor(slot **Tensor, shape ...int) *Tensor {
	n := numel(shape)
	t := *slot
	if t == nil || cap(t.Data) < n {
		t = &Tensor{Data: make([]float32, n)}
		*slot = t
	}
	t.Data = t.Data[:n]
	t.Shape = append(t.Shape[:0], shape...)
	t.needGrad, t.gradOK = false, false
	if t.Grad != nil {
		if cap(t.Grad) >= n {
			t.Grad = t.Grad[:n]
		} else {
			t.Grad = nil
		}
	}
	return t
}

// parallelFor splits [0, n) into contiguous chunks over the backend's
// thread count. Callers only use it where every index writes outputs no
// other index touches, so the thread count never changes a bit.
func (c *Ctx) parallelFor(n int, f func(lo, hi int)) {
	t := 1
	if c.Backend != nil {
		t = c.Backend.Threads()
	}
	if t > n {
		t = n
	}
	if t <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < t; w++ {
		lo, hi := n*w/t, n*(w+1)/t
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
