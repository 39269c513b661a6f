package report

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"sync"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
)

// ConfigFromTrainer builds the Config section of a run driven by tr on
// devices devices (len of what Trainer.SetDevices got; 0 means 1): the
// model's spec, parameters and FLOPs, tr.Cfg, the backend's name and
// threads, the run's planned steps and the model's recompute setting.
// Call it after Model.SetRecompute and SetDevices.
func ConfigFromTrainer(tr *ml.Trainer, devices int) Config {
	c := ConfigFrom(tr.Model, tr.Cfg, tr.Backend, devices, 0)
	c.Steps = tr.TotalSteps()
	return c
}

// ConfigFrom builds the Config section from a model, its training config
// and backend (nil: threads and backend left empty), for runs without a
// Trainer at hand; trainSamples (0: unknown) gives the planned steps when
// cfg.Steps does not.
func ConfigFrom(m *ml.Model, cfg ml.TrainConfig, b accel.Backend, devices, trainSamples int) Config {
	c := Config{Model: m.Spec.String(), Params: m.NumParams(), Batch: cfg.BatchSize, MicroBatch: cfg.MicroBatch,
		Epochs: cfg.Epochs, Optimizer: cfg.Optimizer, LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay,
		Precision: cfg.Precision, Devices: max(devices, 1), Recompute: m.Recompute(), Seed: cfg.Seed}
	if c.Precision == "" {
		c.Precision = ml.PrecisionFP32
	}
	if f, err := m.FLOPs(); err == nil {
		c.FLOPsPerSample = f
	}
	if b != nil {
		c.Threads, c.Backend = b.Threads(), b.Name()
	}
	switch {
	case cfg.Steps > 0:
		c.Steps = uint64(cfg.Steps)
	case trainSamples > 0 && cfg.BatchSize > 0:
		c.Steps = uint64(cfg.Epochs) * uint64(trainSamples/cfg.BatchSize)
	}
	return c
}

// DatasetFrom builds the Dataset section: name as the user gave it, hash
// and hashOf (HashCanonical for a prepared dataset's meta SHA-256,
// HashSamples for Fingerprint; both "" when unknown), the training
// samples' count, shape and classes, and the held-out samples' count.
func DatasetFrom(name, hash, hashOf string, train ml.Dataset, testSamples int) Dataset {
	return Dataset{Name: name, Hash: hash, HashOf: hashOf, Samples: train.N, TestSamples: testSamples,
		Shape: append([]int(nil), train.Shape...), Classes: train.Classes}
}

// Fingerprint is a hex SHA-256 of a loaded dataset: the domain
// "pouw/report/samples/v1", N, the sample shape, the values as
// little-endian float32 and the labels as little-endian uint32. It tells
// two runs on the same samples apart from runs on different ones when no
// canonical hash is at hand (it is not the chain's dataset hash).
func Fingerprint(d ml.Dataset) string {
	h := sha256.New()
	h.Write([]byte("pouw/report/samples/v1"))
	var b [8]byte
	put := func(v uint64) { binary.LittleEndian.PutUint64(b[:], v); h.Write(b[:]) }
	put(uint64(d.N))
	put(uint64(len(d.Shape)))
	for _, s := range d.Shape {
		put(uint64(s))
	}
	buf := make([]byte, 0, 1<<16)
	ss := 1
	for _, s := range d.Shape {
		ss *= s
	}
	row := make([]float32, ss) // sample by sample: a view (ml.Dataset.Bytes) has no X
	for i := 0; i < d.N; i++ {
		d.Sample(i, row)
		for _, v := range row {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
		}
	}
	for _, y := range d.Y {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(y))
		if len(buf) == cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// Estimator predicts memory for the advice rules: the run's
// configuration with the batch, the recomputation or the precision
// changed.
type Estimator interface {
	// PeakBytes is the predicted live peak of one training step at batch
	// with recompute (ml.EstimateModel), the rest of the run's config
	// unchanged.
	PeakBytes(batch, recompute int) (uint64, error)
	// ActivationBytes is ml.ActivationBytes at batch and precision: what
	// a device backend storing half values in 2 bytes holds for backward.
	ActivationBytes(batch int, precision string) (uint64, error)
}

// ModelEstimator estimates with the live model m (no weights are built)
// and the run's config c: what a training run passes to the Recorder.
func ModelEstimator(m *ml.Model, c Config) Estimator {
	return &mlEstimator{c: c, model: func() (*ml.Model, error) { return m, nil }}
}

// SpecEstimator estimates from c.Model alone: it builds the model (its
// weights, 4 bytes per parameter) once, on first use. What tools that
// only hold a report use.
func SpecEstimator(c Config) Estimator {
	e := &mlEstimator{c: c}
	e.model = sync.OnceValues(func() (*ml.Model, error) {
		if c.Model == "" {
			return nil, fmt.Errorf("estimate: the report's config names no model")
		}
		return ml.NewModel(c.Model, 1)
	})
	return e
}

type mlEstimator struct {
	c     Config
	model func() (*ml.Model, error)
}

func (e *mlEstimator) PeakBytes(batch, recompute int) (uint64, error) {
	m, err := e.model()
	if err != nil {
		return 0, err
	}
	micro := e.c.MicroBatch
	if micro > 0 && batch%micro != 0 {
		micro = 0
	}
	est, err := ml.EstimateModel(m, ml.EstimateOptions{Batch: batch, Optimizer: e.c.Optimizer, Momentum: e.c.Momentum,
		Precision: e.c.Precision, Recompute: recompute, MicroBatch: micro, Devices: e.c.Devices, Threads: e.c.Threads})
	if err != nil {
		return 0, err
	}
	return est.PeakBytes, nil
}

func (e *mlEstimator) ActivationBytes(batch int, precision string) (uint64, error) {
	m, err := e.model()
	if err != nil {
		return 0, err
	}
	return ml.ActivationBytes(m, batch, precision)
}
