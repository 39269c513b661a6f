//go:build cuda || cudaemu

package devtrain

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pouw/pouwd/accel/cuda"
)

// Micro-batches and several devices. ml's host path (ml/parallel.go)
// computes a step with TrainConfig.MicroBatch > 0 as:
//
//   - micro-batch j's pass: forward, the mean loss of its samples, backward
//     seeded with 1, giving its gradient g_j; dropout draws the whole
//     batch's masks (a micro-batch's is its slice of them); BatchNorm
//     normalises with the micro-batch's statistics;
//   - the gradient: the pairwise tree over j (level s = 1, 2, 4, ... adds
//     g_{j+s} into g_j for j = 0, 2s, 4s, ...; float32 additions), then
//     divided by the micro-batch count M (for a power of two ml multiplies
//     by 1/M, which is the same bits); for M = 1 the gradient itself;
//   - the loss: the same tree over the micro-batch losses, then / M;
//   - a BatchNorm running statistic r: r = float32((1-mom)·r) +
//     float32(mom·stat_j) for j = 0, 1, ... in order.
//
// The device does the same. Device d (of D) runs micro-batches d, d+D,
// ..., a round of D passes at a time (concurrently, each device its own
// goroutine); then, in micro-batch order, each pass's gradient joins the
// tree on device 0: the tree is built as a binary counter (a stack of
// partial sums of 1, 2, 4, ... micro-batches: a new gradient merges with
// the top while their sizes are equal, left += right; at the end the
// stack is merged from the right), which adds exactly the pairs ml's
// levels add, so it needs only the bits set in M gradient sets at a time
// (the slots) rather than M. Another device's gradient comes to device 0
// through the host. The sum is divided by M (accel/cuda's NormStats mean
// stage: a float32 division per value) into the gradient buffers, device
// 0 runs the optimizer, and the new weights go to the other replicas. On
// one device the running statistics are updated in each micro-batch's
// forward pass, which is already micro-batch order; with several, each
// pass keeps its mean and variance and device 0 applies them in order
// (BatchNormRunning, the same kernel).

// level is a partial sum on the reduction's stack: slot holds the sum of
// size consecutive micro-batch gradients.
type level struct{ slot, size int }

// allocateSlots makes the reduction's gradient sets: one buffer per slot,
// viewed per trainable parameter in ml's order.
func (t *Trainer) allocateSlots() error {
	if t.nslots == 0 {
		return nil
	}
	total := 0
	for i := range t.params {
		if !t.params[i].p.Buffer {
			total += t.params[i].p.T.Numel()
		}
	}
	for k := 0; k < t.nslots; k++ {
		x, err := t.alloc(fmt.Sprintf("micro-batch gradient sum %d", k), total)
		if err != nil {
			return err
		}
		var views []*cuda.Buffer
		off := 0
		for i := range t.params {
			if p := &t.params[i]; !p.p.Buffer {
				views = append(views, x.Slice(off, p.p.T.Numel()))
				off += p.p.T.Numel()
			}
		}
		t.slots = append(t.slots, x)
		t.views = append(t.views, views)
	}
	return nil
}

// trainable lists the replica's trainable parameters in ml's order.
func (t *Trainer) trainable() []*param {
	var ps []*param
	for i := range t.params {
		if !t.params[i].p.Buffer {
			ps = append(ps, &t.params[i])
		}
	}
	return ps
}

// microStep runs the step's micro-batches on the devices and leaves their
// reduced gradient in device 0's gradient buffers; it returns the loss.
func (t *Trainer) microStep(x []float32, lab []int32, step uint64) (float32, error) {
	mb, ss := t.batch, t.model.SampleSize()
	reps := append([]*Trainer{t}, t.peers...)
	if len(t.microLoss) != t.micro {
		t.microLoss = make([]float32, t.micro)
	}
	t.stack, t.free = t.stack[:0], t.free[:0]
	for k := t.nslots - 1; k >= 0; k-- {
		t.free = append(t.free, k)
	}
	run := func(d, j int) error {
		r := reps[d]
		sum, err := r.pass(x[j*mb*ss:(j+1)*mb*ss], lab[j*mb:(j+1)*mb], step, j)
		if err != nil {
			if len(reps) > 1 {
				err = fmt.Errorf("%s: %w", r.b.Device(), err)
			}
			return fmt.Errorf("micro-batch %d: %w", j, err)
		}
		t.microLoss[j] = sum / float32(mb)
		return nil
	}
	for r0 := 0; r0 < t.micro; r0 += len(reps) {
		n := min(len(reps), t.micro-r0)
		errs := make([]error, n)
		if n == 1 {
			errs[0] = run(0, r0)
		} else {
			var wg sync.WaitGroup
			for d := 0; d < n; d++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[d] = run(d, r0+d)
				}()
			}
			wg.Wait()
		}
		if err := errors.Join(errs...); err != nil {
			return 0, err
		}
		for d := 0; d < n; d++ {
			if err := t.reduce(reps[d]); err != nil {
				return 0, fmt.Errorf("micro-batch %d: %w", r0+d, err)
			}
		}
	}
	if err := t.finish(); err != nil {
		return 0, err
	}
	// The loss: ml's tree over the micro-batch losses, then / M.
	ls := t.microLoss
	for s := 1; s < len(ls); s *= 2 {
		for j := 0; j+s < len(ls); j += 2 * s {
			ls[j] += ls[j+s]
		}
	}
	loss := ls[0]
	if t.micro > 1 {
		loss /= float32(t.micro)
	}
	return loss, nil
}

// reduce takes the pass replica r has just run (the next micro-batch in
// order): its batch-norm statistics (several devices) and its gradient,
// into the tree.
func (t *Trainer) reduce(r *Trainer) error {
	if t.deferBN {
		if err := t.runningStats(r); err != nil {
			return err
		}
	}
	if t.micro == 1 {
		return nil // device 0's pass: its gradient is the step's
	}
	ps := t.trainable()
	size, cur := 1, -1
	if r == t {
		if k := len(t.stack) - 1; k >= 0 && t.stack[k].size == 1 {
			// Merge with the top where the gradient is.
			for i, p := range ps {
				if err := t.b.Add(t.views[t.stack[k].slot][i], p.g); err != nil {
					return err
				}
			}
			cur, size = t.stack[k].slot, 2
			t.stack = t.stack[:k]
		} else {
			cur = t.take()
			for i, p := range ps {
				if err := t.views[cur][i].CopyFrom(p.g); err != nil {
					return err
				}
			}
		}
	} else {
		cur = t.take()
		if err := t.fetch(t.slots[cur], r); err != nil {
			return err
		}
	}
	for k := len(t.stack) - 1; k >= 0 && t.stack[k].size == size; k-- {
		top := t.stack[k].slot
		if err := t.b.Add(t.slots[top], t.slots[cur]); err != nil {
			return err
		}
		t.free = append(t.free, cur)
		cur, size = top, 2*size
		t.stack = t.stack[:k]
	}
	t.stack = append(t.stack, level{slot: cur, size: size})
	return nil
}

// take returns a free slot (nslots covers the most the tree holds).
func (t *Trainer) take() int {
	k := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	return k
}

// fetch copies replica r's trainable gradients into dst on device 0,
// through the host.
func (t *Trainer) fetch(dst *cuda.Buffer, r *Trainer) error {
	if cap(t.staging) < dst.Len() {
		t.staging = make([]float32, dst.Len())
	}
	h := t.staging[:dst.Len()]
	off := 0
	for _, p := range r.trainable() {
		n := p.g.Len()
		if err := p.g.Download(h[off : off+n]); err != nil {
			return fmt.Errorf("%s gradient from %s: %w", p.p.Name, r.b.Device(), err)
		}
		off += n
	}
	return dst.Upload(h)
}

// finish merges the stack from the right and writes the sum / M into the
// gradient buffers.
func (t *Trainer) finish() error {
	if t.micro == 1 {
		return nil
	}
	for k := len(t.stack) - 1; k > 0; k-- {
		if err := t.b.Add(t.slots[t.stack[k-1].slot], t.slots[t.stack[k].slot]); err != nil {
			return err
		}
	}
	sum := t.stack[0].slot
	// v / float32(M) per value (the mean stage of NormStats is exactly
	// that; for M a power of two ml's v·(1/M) is the same bits).
	if err := t.b.NormStats(cuda.NormMean, t.slots[sum], nil, nil, t.slots[sum].Len(), float32(t.micro), 0); err != nil {
		return err
	}
	for i, p := range t.trainable() {
		if err := p.g.CopyFrom(t.views[sum][i]); err != nil {
			return err
		}
	}
	return nil
}

// runningStats applies the batch-norm running statistics of replica r's
// pass on device 0 (several devices): each BatchNorm stage's mean and
// variance, copied from r through the host when r is another device.
func (t *Trainer) runningStats(r *Trainer) error {
	for i, s := range t.stages {
		n, ok := s.(*norm)
		if !ok || n.rmean == nil {
			continue
		}
		if r != t {
			src := r.stages[i].(*norm)
			g := n.geom.Groups
			h := make([]float32, 2*g)
			if err := errors.Join(src.mean.Download(h[:g]), src.svar.Download(h[g:])); err != nil {
				return err
			}
			if err := errors.Join(n.mean.Upload(h[:g]), n.svar.Upload(h[g:])); err != nil {
				return err
			}
		}
		if err := t.b.BatchNormRunning(n.rmean.w, n.rvar.w, n.mean, n.svar, n.geom.Groups, n.geom.M, n.mom); err != nil {
			return fmt.Errorf("%s running statistics: %w", n.name, err)
		}
	}
	return nil
}

// broadcast copies device 0's updated weights to the other replicas
// (through the host).
func (t *Trainer) broadcast() error {
	if len(t.peers) == 0 {
		return nil
	}
	for i := range t.params {
		p := &t.params[i]
		if p.p.Buffer {
			continue // the others never read the running statistics
		}
		n := p.w.Len()
		if cap(t.staging) < n {
			t.staging = make([]float32, n)
		}
		h := t.staging[:n]
		if err := p.w.Download(h); err != nil {
			return err
		}
		for _, r := range t.peers {
			if err := r.params[i].w.Upload(h); err != nil {
				return fmt.Errorf("%s to %s: %w", p.p.Name, r.b.Device(), err)
			}
		}
	}
	return nil
}
