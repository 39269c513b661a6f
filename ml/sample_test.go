package ml_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
)

// TestSamplesInPlace checks StepInfo.Samples against its definition: the
// model's tensors concatenated in canonical order (a copy made here), the
// values at pouw.SamplePositions gathered from the copy and hashed with
// pouw.GradSample / pouw.WeightSample. A model with a buffer (batch-norm
// statistics: in the weights, not the gradients) and momentum.
// sampledTrainer is a trainer in sampled mode of an MLP with batch-norm
// buffers, SGD with momentum, batch 32, for steps steps on MNIST.
func sampledTrainer(t *testing.T, steps int) *ml.Trainer {
	t.Helper()
	train, _ := loadMNIST(t)
	cfg := ml.DefaultTrainConfig()
	cfg.Steps, cfg.Epochs, cfg.Momentum, cfg.BatchSize = steps, 0, 0.9, 32
	m, err := ml.NewModel("mlp:784-16-10,norm=batch", 3)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ml.NewTrainer(m, subset(train, 256), cfg, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	tr.SampledSteps()
	return tr
}

func TestSamplesInPlace(t *testing.T) {
	tr := sampledTrainer(t, 3)
	m := tr.Model
	flat := func(grads bool) []float32 {
		var out []float32
		for _, p := range m.Params() {
			switch {
			case !grads:
				out = append(out, p.T.Data...)
			case !p.Buffer:
				out = append(out, p.T.Grad...)
			}
		}
		return out
	}
	gather := func(vals []float32, prev pouw.Hash, stream int) []byte {
		pos := make([]uint64, pouw.SampleCount)
		pouw.SamplePositions(prev, stream, uint64(len(vals)), pos)
		b := make([]byte, 4*len(pos))
		for k, p := range pos {
			binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(vals[p]))
		}
		return b
	}
	if _, _, err := (ml.StepInfo{}).Samples(pouw.Hash{}); err == nil {
		t.Fatal("Samples outside a sampled step's hook did not fail")
	}
	prev := pouw.Hash{1, 2, 3}
	hasBuffer := false
	for _, p := range m.Params() {
		hasBuffer = hasBuffer || p.Buffer
	}
	if !hasBuffer {
		t.Fatal("the model has no buffer: the weight sample's buffers are untested")
	}
	for !tr.Done() {
		if _, err := tr.Step(func(s ml.StepInfo) error {
			g, w, err := s.Samples(prev)
			if err != nil {
				return err
			}
			gv, wv := flat(true), flat(false)
			wantG, _ := pouw.GradSample(math.Float32bits(s.Loss), uint64(len(gv)), gather(gv, prev, pouw.SampleGrads))
			wantW, _ := pouw.WeightSample(uint64(len(wv)), gather(wv, prev, pouw.SampleWeights))
			if g != wantG || w != wantW {
				t.Errorf("step %d: samples differ from a gather over the concatenated tensors", s.Step)
			}
			if s.Batch != ml.BatchHash(s.Indices) {
				t.Errorf("step %d: batch hash", s.Step)
			}
			prev = g // any new prev: other positions next step
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStepCommitting: the commitment made beside a step is the state
// before it (CommitHashes of a copy taken before the step, and a
// checkpoint body that seals into a checkpoint VerifyCheckpoint accepts
// for those hashes and that resumes at the step), the hook sees it at
// that step only, and the step trains exactly as Step does.
func TestStepCommitting(t *testing.T) {
	plain, committing := sampledTrainer(t, 4), sampledTrainer(t, 4)
	for i := 0; i < 2; i++ {
		plain.Step(nil)
		committing.Step(nil)
	}
	wh, oh := ml.CommitHashes(committing.Model, committing.Opt)
	seen := 0
	c, _, err := committing.StepCommitting(func(s ml.StepInfo) error {
		if s.Commitment == nil || s.Step != 2 {
			t.Errorf("step %d: commitment %v", s.Step, s.Commitment)
		}
		seen++
		return nil
	}, nil)
	if err != nil || seen != 1 {
		t.Fatalf("StepCommitting: %v, hook called %d times", err, seen)
	}
	if c.WeightsHash != wh || c.OptimizerHash != oh {
		t.Fatal("the commitment is not the state before the step")
	}
	ck, err := ml.VerifyCheckpoint(ml.SealCheckpoint(c.Checkpoint), wh, oh)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Header.Step != 2 {
		t.Fatalf("the committed checkpoint is at step %d, expected 2", ck.Header.Step)
	}
	plain.Step(nil)
	if ml.WeightsHash(plain.Model) != ml.WeightsHash(committing.Model) {
		t.Fatal("a committing step trains other weights than Step")
	}
	if _, err := committing.Step(func(s ml.StepInfo) error {
		if s.Commitment != nil {
			t.Error("a commitment at a step that made none")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
