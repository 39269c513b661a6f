package ml

import (
	"errors"
	"fmt"

	"github.com/pouw/pouwd/pouw"
)

// Resident is a training step engine that holds a trainer's model, its
// gradients and its optimizer state in an accelerator's memory, so that a
// whole step runs there and only the loss (and, on demand, digest samples
// or the state) crosses to the host. Package ml/devtrain implements it on
// accel/cuda; ml cannot import that package (accel/cuda's tests import
// ml), so the boundary is this interface, which Trainer drives.
//
// A Resident computes every value with exactly the bits of the host path
// (the same canonical kernels), so attaching one never changes a hash.
type Resident interface {
	// Name describes the device, e.g. "gpu0 (NVIDIA H100)".
	Name() string
	// Step runs forward, loss, backward and the optimizer on one batch of
	// len(labels) samples (x holds their values, row-major) at global step
	// index step, leaving the step's gradients and the updated weights
	// and optimizer state on the device. It returns the mean loss. The
	// host optimizer's scalar state (Adam's t, β1ᵗ, β2ᵗ) is advanced by
	// the caller (Adam.Advance) before Step, which reads it.
	Step(x []float32, labels []int, step uint64) (float32, error)
	// SampleValues is sampleInto on the device state: n, the number of
	// values sampled over (the trainable parameters' gradients with
	// grads, else every parameter and buffer), and the 4·pouw.SampleCount
	// bytes of the values at pouw.SamplePositions(prev, stream, n).
	SampleValues(grads bool, prev pouw.Hash, stream int) (uint64, []byte, error)
	// Pull copies the device's weights, buffers, gradients and optimizer
	// slots into the model's and the optimizer's host tensors.
	Pull() error
}

// SetResident makes the trainer's steps run on r (nil detaches it, after
// pulling the state back to the host). Attach it after any checkpoint is
// restored: r uploads the host state when it is made, and from then on
// the device's copy is the state; the trainer pulls it to the host where
// the host must read it (SaveCheckpoint, StepCommitting, Run's result,
// the version 1 hashes of the default mode). Micro-batches (TrainConfig.
// MicroBatch) are r's to run, with ml's reduction (ml/devtrain); mixed
// precision and the profiler stay on the host path: SetResident refuses
// them.
func (t *Trainer) SetResident(r Resident) error {
	if r == nil {
		err := t.Sync()
		t.res = nil
		return err
	}
	var errs []error
	if t.Cfg.Precision != "" {
		errs = append(errs, fmt.Errorf("precision %s (the device path trains in fp32 for now)", t.Cfg.Precision))
	}
	if t.prof != nil {
		errs = append(errs, errors.New("the profiler (it times host ops)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("train on %s: not supported yet with %w", r.Name(), err)
	}
	t.res = r
	return nil
}

// Resident returns the attached device engine (nil: the host path).
func (t *Trainer) Resident() Resident { return t.res }

// Sync copies the resident state to the host tensors (a no-op on the host
// path): Model and Opt then hold the trainer's current state.
func (t *Trainer) Sync() error {
	if t.res == nil {
		return nil
	}
	if err := t.res.Pull(); err != nil {
		return fmt.Errorf("copy the state back from %s: %w", t.res.Name(), err)
	}
	return nil
}

// residentStep is forwardBackward and optimize on the attached device.
func (t *Trainer) residentStep(idx []int) (float32, error) {
	x, labels := t.gather(idx)
	if a, ok := t.Opt.(*Adam); ok {
		a.Advance()
	}
	loss, err := t.res.Step(x, labels, t.step)
	if err != nil {
		return 0, fmt.Errorf("step %d on %s: %w", t.step, t.res.Name(), err)
	}
	return loss, nil
}
