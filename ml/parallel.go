package ml

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pouw/pouwd/accel"
)

// parallel is the micro-batch state of a trainer (TrainConfig.MicroBatch >
// 0): the devices, one model replica per device, and per micro-batch the
// gradient buffers, batch-norm contributions and loss.
type parallel struct {
	devices []accel.Backend
	reps    []*replica
	grads   [][][]float32 // [micro-batch][trainable parameter]
	bn      [][][]float32 // [micro-batch][buffer]: running-statistic contributions
	losses  []float32
	// the master model's buffers and their batch-norm momentum
	buffers []*Param
	mom     []float32
}

// replica is one device's copy of the model: its own layers (scratch
// buffers, tape, gradients, batch-norm buffers), reading the master's
// weights (or their half copies), which nothing writes during the pass.
type replica struct {
	m         *Model
	b         accel.Backend
	tape      Tape
	xbuf      []float32
	trainable []*Param
	buffers   []*Param
	dropout   []*Dropout
}

// SetDevices sets the backends a step runs on. Several devices need
// micro-batches (TrainConfig.MicroBatch > 0): device d runs micro-batches
// d, d+D, d+2D, ... of every step concurrently with the others, and the
// step's gradient is reduced in a fixed order afterwards, so the number of
// devices, like their thread counts, never changes a bit. devices[0] also
// becomes Trainer.Backend. With MicroBatch 0 only one device is allowed.
func (t *Trainer) SetDevices(devices ...accel.Backend) error {
	if len(devices) == 0 {
		return errors.New("set devices: no device")
	}
	for i, d := range devices {
		if d == nil {
			return fmt.Errorf("set devices: device %d is nil", i)
		}
	}
	if t.Cfg.MicroBatch == 0 {
		if len(devices) > 1 {
			return fmt.Errorf("%d devices need micro-batches: set the micro-batch size (TrainConfig.MicroBatch, a divisor of the batch size %d); it is part of the computation, the device count is not", len(devices), t.Cfg.BatchSize)
		}
		t.Backend = devices[0]
		return nil
	}
	t.Backend = devices[0]
	t.mp.par.devices = append([]accel.Backend(nil), devices...)
	t.mp.par.reps = nil
	return nil
}

// Devices lists the backends steps run on.
func (t *Trainer) Devices() []accel.Backend {
	if t.mp == nil || t.mp.par == nil {
		return []accel.Backend{t.Backend}
	}
	return append([]accel.Backend(nil), t.mp.par.devices...)
}

// ensure builds the replicas and the per-micro-batch buffers.
func (p *parallel) ensure(t *Trainer, micro int) error {
	if p.mom == nil {
		mom := map[*Param]float32{}
		forEachLayer(t.Model.Layers, func(l Layer) {
			if n, ok := l.(*Norm); ok && !n.Layer {
				mom[n.RMean], mom[n.RVa] = n.Mom, n.Mom
			}
		})
		p.mom = []float32{}
		for _, q := range t.Model.params {
			if q.Buffer {
				m, ok := mom[q]
				if !ok {
					return fmt.Errorf("micro-batches: buffer %s has no micro-batch rule", q.Name)
				}
				p.buffers = append(p.buffers, q)
				p.mom = append(p.mom, m)
			}
		}
	}
	if len(p.reps) != len(p.devices) {
		p.reps = nil
		for _, b := range p.devices {
			m, err := NewModel(t.Model.Spec.raw, t.Model.Seed)
			if err != nil {
				return err
			}
			r := &replica{m: m, b: b, trainable: trainableOf(m.params)}
			for _, q := range m.params {
				if q.Buffer {
					r.buffers = append(r.buffers, q)
				}
			}
			forEachLayer(m.Layers, func(l Layer) {
				if d, ok := l.(*Dropout); ok {
					r.dropout = append(r.dropout, d)
				}
			})
			p.reps = append(p.reps, r)
		}
	}
	for _, r := range p.reps {
		r.m.recompute = t.Model.recompute
	}
	if len(p.grads) != micro {
		trainable := trainableOf(t.Model.params)
		p.grads = make([][][]float32, micro)
		p.bn = make([][][]float32, micro)
		p.losses = make([]float32, micro)
		for j := range p.grads {
			for _, q := range trainable {
				p.grads[j] = append(p.grads[j], make([]float32, q.T.Numel()))
			}
			for _, q := range p.buffers {
				p.bn[j] = append(p.bn[j], make([]float32, q.T.Numel()))
			}
		}
	}
	return nil
}

// forwardBackward runs the step's micro-batches on the devices and
// reduces them into the master model's gradients, loss and batch-norm
// buffers (see the package comment, "Micro-batches and devices").
func (p *parallel) forwardBackward(t *Trainer, mx *mixed, idx []int, scale float32) (float32, error) {
	mb := t.Cfg.MicroBatch
	micro := len(idx) / mb
	if err := p.ensure(t, micro); err != nil {
		return 0, err
	}
	for _, r := range p.reps {
		for k, q := range r.trainable {
			q.T.Data = mx.weights(k)
		}
	}
	devs := len(p.reps)
	errs := make([]error, devs)
	work := func(d int) {
		for j := d; j < micro; j += devs {
			if err := p.reps[d].micro(t, mx, p, j, idx[j*mb:(j+1)*mb], scale); err != nil {
				errs[d] = err
				return
			}
		}
	}
	if devs == 1 {
		work(0)
	} else {
		var wg sync.WaitGroup
		for d := 0; d < devs; d++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				work(d)
			}()
		}
		wg.Wait()
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	// Gradients: the pairwise tree over micro-batch index, then / M.
	c := &Ctx{Backend: mx.hostThreads(t)}
	mf := float32(micro)
	// For M a power of two, v·(1/M) is v/M bit for bit (both are the
	// correctly rounded v·2^-k), and a multiplication is cheaper.
	inv, pow2 := 1/mf, micro&(micro-1) == 0
	bufs := make([][]float32, micro)
	for k, q := range mx.trainable {
		for j := range bufs {
			bufs[j] = p.grads[j][k]
		}
		dst, _ := q.T.gradDst()
		const chunk = 1 << 12
		n := len(dst)
		c.parallelFor((n+chunk-1)/chunk, func(lo, hi int) {
			lo, hi = lo*chunk, min(hi*chunk, n)
			d := dst[lo:hi]
			switch {
			case micro == 1:
				copy(d, bufs[0][lo:hi])
			case micro == 2: // the tree and the division in one pass
				a, b := bufs[0][lo:hi], bufs[1][lo:hi:hi]
				for i := range d {
					d[i] = float32(a[i]+b[i]) * inv
				}
			default:
				treeSum(bufs, lo, hi)
				for i, v := range bufs[0][lo:hi] {
					if pow2 {
						d[i] = v * inv
					} else {
						d[i] = v / mf
					}
				}
			}
		})
	}
	// Loss: the same tree over the micro-batch losses, then / M.
	ls := make([][]float32, micro)
	for j := range ls {
		ls[j] = p.losses[j : j+1]
	}
	treeSum(ls, 0, 1)
	loss := p.losses[0]
	if micro > 1 {
		loss /= mf
	}
	// Batch-norm running statistics: the update of each micro-batch in
	// micro-batch order, r = float32((1-mom)·r) + float32(mom·stat_j).
	for q, b := range p.buffers {
		keep := 1 - p.mom[q]
		r := b.T.Data
		for j := 0; j < micro; j++ {
			for i, v := range p.bn[j][q] {
				r[i] = float32(keep*r[i]) + v
			}
		}
	}
	return loss, nil
}

// treeSum sums bufs[j][lo:hi] over j into bufs[0][lo:hi] along the fixed
// pairwise tree over the index: level s = 1, 2, 4, ... adds bufs[j+s] into
// bufs[j] for j = 0, 2s, 4s, ... (float32 additions; for 4 buffers
// (b0+b1)+(b2+b3), for 3 (b0+b1)+b2). The tree depends only on len(bufs).
func treeSum(bufs [][]float32, lo, hi int) {
	for s := 1; s < len(bufs); s *= 2 {
		for j := 0; j+s < len(bufs); j += 2 * s {
			addTo(bufs[j][lo:hi], bufs[j+s][lo:hi])
		}
	}
}

// micro runs micro-batch j (samples idx) on the replica: its gradients go
// to p.grads[j], its loss to p.losses[j], and the batch-norm running
// statistics update it makes from zero buffers, float32(mom·stat_j), to
// p.bn[j].
//
// Why zero buffers give float32(mom·stat_j) exactly: BatchNorm computes
// float32((1-mom)·0) + float32(mom·stat) = +0 + float32(mom·stat), which is
// that value except that -0 becomes +0. The master then adds it to
// float32((1-mom)·r), which is never -0 (r starts at +0 or 1, and a sum
// is -0 only if both terms are), so adding +0 or -0 gives the same bits.
func (r *replica) micro(t *Trainer, mx *mixed, p *parallel, j int, idx []int, scale float32) error {
	for k, q := range r.trainable {
		q.T.Grad, q.T.gradOK = p.grads[j][k], false
	}
	for _, q := range r.buffers {
		clear(q.T.Data)
	}
	for _, d := range r.dropout {
		d.sample0 = j * len(idx)
	}
	ss := r.m.SampleSize()
	if cap(r.xbuf) < len(idx)*ss {
		r.xbuf = make([]float32, len(idx)*ss)
	}
	prof := t.prof.device(p, r)
	prof.begin(opData, batchBytes(len(idx), ss))
	x, labels := gatherBatch(r.xbuf[:len(idx)*ss], t.data, idx, ss)
	prof.end()
	xt, _ := FromData(x, append([]int{len(idx)}, r.m.InShape...)...)
	c := &Ctx{Backend: r.b, Tape: &r.tape, Train: true, Seed: t.Cfg.Seed, Step: t.step, prof: prof}
	loss, err := runPass(c, r.m, xt, labels, mx.round, scale)
	if err != nil {
		return err
	}
	p.losses[j] = loss
	for _, q := range r.trainable {
		q.T.grad() // zeros where backward did not reach
	}
	for q, b := range r.buffers {
		copy(p.bn[j][q], b.T.Data)
	}
	return nil
}

// skip advances the generator by n draws (SplitMix64 is a counter: each
// draw adds the same constant to the state).
func (r *RNG) skip(n uint64) { r.s += n * 0x9e3779b97f4a7c15 }
