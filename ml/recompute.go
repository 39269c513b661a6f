package ml

import "fmt"

// Gradient checkpointing (activation recomputation).
//
// With Model.SetRecompute(n), a training forward pass groups the model's
// consecutive residual blocks (top-level *Residual layers) into segments
// of n and runs each segment without recording: its layers keep nothing
// for backward, and their reusable buffers are released once the segment's
// output exists, so between forward and backward only the segment
// boundaries stay in memory. Backward reaches a segment through one tape
// entry, which runs the segment's forward again on the kept input, this
// time recording on a tape of its own, runs that tape from the segment
// output's gradient, and releases the buffers again.
//
// The bits are those of training without it: the recomputed forward is
// the same arithmetic on the same input (dropout masks are keyed by seed,
// step and layer, batch-norm batch statistics are recomputed from the same
// values, and half-precision roundings are the same per layer), and the
// segment's backward closures run in the order they would have run on the
// main tape, where they would have been contiguous too: nothing outside
// a segment reads its inner tensors. Batch-norm running statistics are
// updated once per step, by the recording pass (Norm updates them only
// while recording), each layer's own statistics, so the order does not
// matter. Recomputation is a local choice, like the thread count: it is
// not in TrainConfig, checkpoints or digests.

// SetRecompute makes training forward passes recompute activations in
// backward, one segment per every residual blocks (0 turns it off). It
// fails on a model without residual blocks.
func (m *Model) SetRecompute(every int) error {
	if every < 0 {
		return fmt.Errorf("recompute every %d blocks, expected >= 0", every)
	}
	if every > 0 && m.residualBlocks() == 0 {
		return fmt.Errorf("model %s has no residual blocks to recompute (mlp and cnn models have none)", m.Spec.raw)
	}
	m.recompute = every
	return nil
}

// Recompute is the SetRecompute setting.
func (m *Model) Recompute() int { return m.recompute }

func (m *Model) residualBlocks() int {
	n := 0
	for _, l := range m.Layers {
		if _, ok := l.(*Residual); ok {
			n++
		}
	}
	return n
}

// segmentEnd returns the end (exclusive) of the recomputed segment that
// starts at layer i, or i when layer i does not start one.
func (m *Model) segmentEnd(i int) int {
	if m.recompute == 0 {
		return i
	}
	end := i
	for blocks := 0; end < len(m.Layers) && blocks < m.recompute; end++ {
		if _, ok := m.Layers[end].(*Residual); !ok {
			break
		}
		blocks++
	}
	return end
}

// forward is the training and inference forward pass: layers in order,
// with every output rounded to the half precision when round is set
// (layerForward), and recomputed segments when SetRecompute is on and the
// pass records a tape.
func (m *Model) forward(c *Ctx, x *Tensor, round func(dst, src []float32)) *Tensor {
	for i := 0; i < len(m.Layers); {
		if end := m.segmentEnd(i); end > i && c.Tape != nil {
			x = m.recomputed(c, i, end, x, round)
			i = end
			continue
		}
		x = m.layerForward(c, i, x, round)
		if c.Tape == nil && i > 0 {
			// Inference keeps no activations: the layer before has been
			// read, so its buffers go (a large model evaluated on a large
			// batch would otherwise hold every layer's output).
			dropBuffers(m.Layers[i-1 : i])
		}
		i++
	}
	return x
}

// layerForward runs layer i; with round, it rounds the output (unless the
// layer maps half values to half values) and records the rounding of the
// output's gradient before layer i's backward reads it (unless the
// consumer's backward already produces half values).
func (m *Model) layerForward(c *Ctx, i int, x *Tensor, round func(dst, src []float32)) *Tensor {
	l := m.Layers[i]
	y := c.forward(l, x)
	if round == nil {
		return y
	}
	if y != x && !halfPreserving(l) {
		roundPar(c, round, y.Data, y.Data)
	}
	var next Layer
	if i+1 < len(m.Layers) {
		next = m.Layers[i+1]
	}
	if y.needGrad && c.Tape != nil && (next == nil || !halfPreserving(next)) {
		c.Tape.ops = append(c.Tape.ops, func() {
			if y.Grad != nil && y.gradOK {
				roundPar(c, round, y.Grad, y.Grad)
			}
		})
	}
	return y
}

// recomputed runs layers [i, end) without recording and records one tape
// entry that recomputes and differentiates them (see the top of the file).
func (m *Model) recomputed(c *Ctx, i, end int, x *Tensor, round func(dst, src []float32)) *Tensor {
	quiet := *c
	quiet.Tape = nil
	y := x
	for k := i; k < end; k++ {
		y = m.layerForward(&quiet, k, y, round)
	}
	segment := m.Layers[i:end]
	dropBuffers(segment)
	y.needGrad = true
	c.Tape.ops = append(c.Tape.ops, func() {
		c.prof.recompute(true)
		defer c.prof.recompute(false)
		sub := &Tape{}
		rc := *c
		rc.Tape = sub
		yy := x
		for k := i; k < end; k++ {
			yy = m.layerForward(&rc, k, yy, round)
		}
		// y.Grad holds the segment output's whole gradient: y is read by
		// the next layer only, whose backward ran before this entry.
		if err := sub.BackwardFrom(yy, y.Grad); err != nil {
			panic("ml: recompute: " + err.Error()) // shapes are the forward's: a programming error
		}
		dropBuffers(segment)
	})
	return y
}

// bufferHolder is a layer with buffers it reuses from step to step;
// dropBuffers forgets them (the next forward allocates anew).
type bufferHolder interface{ dropBuffers() }

// dropBuffers releases the reusable buffers of ls and of the layers inside
// their residual blocks.
func dropBuffers(ls []Layer) {
	forEachLayer(ls, func(l Layer) {
		if b, ok := l.(bufferHolder); ok {
			b.dropBuffers()
		}
	})
}

func (l *Linear) dropBuffers()        { l.out = nil }
func (a *Activation) dropBuffers()    { a.out, a.cdf = nil, nil }
func (f *Flatten) dropBuffers()       { f.out = nil }
func (r *Residual) dropBuffers()      { r.out = nil }
func (g *GlobalAvgPool) dropBuffers() { g.out = nil }
func (p *MaxPool) dropBuffers()       { p.out, p.arg = nil, nil }
func (p *Pool2d) dropBuffers()        { p.out, p.arg = nil, nil }
func (l *Conv2d) dropBuffers()        { l.colBuf, l.outBuf, l.outT = nil, nil, nil }
func (l *Norm) dropBuffers()          { l.bn, l.ln = bnScratch{}, lnScratch{} }
func (a *Attention) dropBuffers()     { a.out, a.probs = nil, nil }
func (p *Positions) dropBuffers()     { p.out = nil }
func (tp *TokenPool) dropBuffers()    { tp.out = nil }
func (pt *PatchTokens) dropBuffers()  { pt.out = nil }
