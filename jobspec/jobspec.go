package jobspec

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/cv"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Domains of the seed hashes.
const (
	InitDomain  = "pouw/jobspec/init/v1"
	BatchDomain = "pouw/jobspec/batch/v1"
)

var (
	// ErrUnsupported marks a configuration the engine cannot run.
	ErrUnsupported = errors.New("jobspec: unsupported configuration")
	// ErrMismatch marks a configuration that does not fit the dataset or task.
	ErrMismatch = errors.New("jobspec: configuration does not fit")
)

// Spec is everything the engine needs for one job.
type Spec struct {
	TaskID      uint64
	JobIndex    uint32
	ConfigIndex uint32
	FoldIndex   uint32
	// ModelSpec is the engine spec string (ml.NewModel).
	ModelSpec string
	// InitSeed seeds ml.NewModel; Config.Seed is the batch seed.
	InitSeed uint64
	Config   ml.TrainConfig
}

// Seed derives a job seed for a domain (see the package doc).
func Seed(domain string, foldSeed []byte, taskSeed, taskID uint64, job uint32) uint64 {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write(foldSeed)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], taskSeed)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], taskID)
	h.Write(b[:])
	binary.BigEndian.PutUint32(b[:4], job)
	h.Write(b[:4])
	return binary.BigEndian.Uint64(h.Sum(nil)[:8])
}

// ModelSpec maps a configuration to the engine's spec string for samples
// of the given shape and class count (the package doc has every mapping).
// A layout the engine cannot build is ErrUnsupported; a configuration that
// does not fit the dataset is ErrMismatch.
func ModelSpec(c types.ModelConfig, shape []int, classes int) (string, error) {
	in := 1
	for _, d := range shape {
		in *= d
	}
	join := func(xs []uint32) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.FormatUint(uint64(x), 10)
		}
		return strings.Join(s, "-")
	}
	// fits checks the configuration against the dataset with the chain's
	// exact rule (types.ModelParams).
	fits := func() error {
		sh := make([]uint32, len(shape))
		for i, d := range shape {
			if d < 1 || d > types.MaxShapeDim {
				return fmt.Errorf("%w: dataset shape %v: dimension %d outside [1, %d]", ErrMismatch, shape, i, types.MaxShapeDim)
			}
			sh[i] = uint32(d)
		}
		if classes < 1 || classes > types.MaxClasses {
			return fmt.Errorf("%w: %d classes, expected 1 to %d", ErrMismatch, classes, types.MaxClasses)
		}
		if _, err := types.ModelParams(c, sh, uint32(classes)); err != nil {
			return fmt.Errorf("%w: %v", ErrMismatch, err)
		}
		return nil
	}
	dims := func() string {
		s := make([]string, len(shape))
		for i, d := range shape {
			s[i] = strconv.Itoa(d)
		}
		return strings.Join(s, "x")
	}
	switch c.Architecture {
	case "mlp":
		if len(c.Layers) < 2 {
			return "", fmt.Errorf("%w: mlp needs at least input and output widths, got %v", ErrMismatch, c.Layers)
		}
		if int(c.Layers[0]) != in {
			return "", fmt.Errorf("%w: mlp input width %d, dataset samples have %d values (shape %v)", ErrMismatch, c.Layers[0], in, shape)
		}
		if int(c.Layers[len(c.Layers)-1]) != classes {
			return "", fmt.Errorf("%w: mlp output width %d, dataset has %d classes", ErrMismatch, c.Layers[len(c.Layers)-1], classes)
		}
		if err := fits(); err != nil { // hidden widths in the chain's bounds
			return "", err
		}
		return "mlp:" + join(c.Layers), nil
	case "cnn":
		if len(shape) != 3 {
			return "", fmt.Errorf("%w: cnn needs [C,H,W] samples, dataset shape %v", ErrMismatch, shape)
		}
		if len(c.Layers) == 0 {
			return "", fmt.Errorf("%w: cnn needs at least one block width", ErrMismatch)
		}
		w := c.Layers[0]
		for i, l := range c.Layers {
			if uint64(l) != uint64(w)<<i {
				return "", fmt.Errorf("%w: cnn block %d has %d channels, the engine doubles per block (expected %d)", ErrUnsupported, i, l, uint64(w)<<i)
			}
		}
		if err := fits(); err != nil { // widths and blocks the images allow
			return "", err
		}
		return fmt.Sprintf("cnn:%dx%dx%d-%dx%d-%d", shape[0], shape[1], shape[2], len(c.Layers), w, classes), nil
	case "resnet":
		r, err := c.ResNet()
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
		if err := fits(); err != nil {
			return "", err
		}
		block := "basic"
		if r.Bottleneck {
			block = "bottleneck"
		}
		stages := make([]string, len(r.Stages))
		for i, d := range r.Stages {
			stages[i] = strconv.FormatUint(d, 10)
		}
		return fmt.Sprintf("resnet:%s-%s-%s-%d-%d", dims(), block, strings.Join(stages, "."), r.Width, classes), nil
	case "transformer", "vit":
		t, err := c.Transformer()
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
		if err := fits(); err != nil {
			return "", err
		}
		var spec string
		if c.Architecture == "transformer" {
			spec = fmt.Sprintf("transformer:%d-%d-%dx%dx%d-%d", shape[0], t.Vocab, t.Layers, t.Dim, t.Heads, classes)
		} else {
			spec = fmt.Sprintf("vit:%s-%d-%dx%dx%d-%d", dims(), t.Patch, t.Layers, t.Dim, t.Heads, classes)
		}
		// Options in this order, each only when it is not the engine's default.
		if t.MLP != types.DefaultMLPRatio {
			spec += fmt.Sprintf(",mlp=%d", t.MLP)
		}
		if t.SinPos {
			spec += ",pos=sin"
		}
		if t.Causal {
			spec += ",causal"
		}
		if t.LastHead {
			spec += ",head=last"
		}
		return spec, nil
	}
	return "", fmt.Errorf("%w: architecture %q (the engine runs mlp, cnn, resnet, transformer and vit)", ErrUnsupported, c.Architecture)
}

func e9(x uint64) float32 { return float32(float64(x) / 1e9) }

// TrainConfig maps a configuration to the engine's TrainConfig with the
// given batch seed.
func TrainConfig(c types.ModelConfig, batchSeed uint64) (ml.TrainConfig, error) {
	tc := ml.DefaultTrainConfig()
	switch c.Optimizer {
	case types.OPTIMIZER_SGD:
		tc.Optimizer = "sgd"
	case types.OPTIMIZER_ADAM:
		tc.Optimizer = "adam"
	case types.OPTIMIZER_ADAMW:
		tc.Optimizer = "adamw"
	default:
		return tc, fmt.Errorf("%w: optimizer %s", ErrUnsupported, c.Optimizer)
	}
	// The precision is part of the work: half-precision storage with fp32
	// accumulation (ml.TrainConfig.Precision) computes other, equally
	// canonical bits, which every verifier reproduces.
	switch c.Precision {
	case types.PRECISION_FP32, types.PRECISION_UNSPECIFIED:
		// ml's default ("" is fp32)
	case types.PRECISION_BF16:
		tc.Precision = ml.PrecisionBF16
	case types.PRECISION_FP16:
		tc.Precision = ml.PrecisionFP16
	default:
		return tc, fmt.Errorf("%w: precision %s", ErrUnsupported, c.Precision)
	}
	tc.LR = e9(c.LearningRateE9)
	tc.Momentum = e9(c.MomentumE9)
	tc.WeightDecay = e9(c.WeightDecayE9)
	tc.BatchSize = int(c.BatchSize)
	tc.Epochs = int(c.Epochs)
	tc.Steps = 0
	tc.Seed = batchSeed
	if err := tc.Validate(); err != nil {
		return tc, fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	return tc, nil
}

// ForJob derives the Spec of job index of a seeded task over a dataset of
// the given sample shape and classes.
func ForJob(task *types.Task, index uint32, shape []int, classes int) (*Spec, error) {
	if len(task.FoldSeed) != 32 {
		return nil, fmt.Errorf("%w: task %d has no fold seed yet", ErrMismatch, task.Id)
	}
	folds := task.Cv.Folds
	if folds == 0 || uint64(index) >= uint64(len(task.Configs))*uint64(folds) {
		return nil, fmt.Errorf("%w: job %d of task %d (%d configs x %d folds)", ErrMismatch, index, task.Id, len(task.Configs), folds)
	}
	s := &Spec{TaskID: task.Id, JobIndex: index, ConfigIndex: index / folds, FoldIndex: index % folds}
	c := task.Configs[s.ConfigIndex]
	var err error
	if s.ModelSpec, err = ModelSpec(c, shape, classes); err != nil {
		return nil, err
	}
	s.InitSeed = Seed(InitDomain, task.FoldSeed, task.Seed, task.Id, index)
	if s.Config, err = TrainConfig(c, Seed(BatchDomain, task.FoldSeed, task.Seed, task.Id, index)); err != nil {
		return nil, err
	}
	return s, nil
}

// NewModel builds the job's initial model W_0.
func (s *Spec) NewModel() (*ml.Model, error) { return ml.NewModel(s.ModelSpec, s.InitSeed) }

// Folds returns the dataset indices the job trains on and those it is
// measured on (held out), both ascending.
func Folds(task *types.Task, index uint32, labels []int, split []uint8) (train, heldOut []int, err error) {
	if len(labels) != len(split) {
		return nil, nil, fmt.Errorf("%w: %d labels, %d split bytes", ErrMismatch, len(labels), len(split))
	}
	if task.Cv.Folds == 0 {
		return nil, nil, fmt.Errorf("%w: task %d has no folds", ErrMismatch, task.Id)
	}
	pool := data.CVPool(split)
	pl := make([]int, len(pool))
	for p, i := range pool {
		pl[p] = labels[i]
	}
	assign, err := cv.TaskFolds(pl, int(task.Cv.Folds), task.Cv.Stratified, task.FoldSeed, task.Seed)
	if err != nil {
		return nil, nil, err
	}
	fold := int(index % task.Cv.Folds)
	for p, f := range assign {
		if f == fold {
			heldOut = append(heldOut, pool[p])
		} else {
			train = append(train, pool[p])
		}
	}
	return train, heldOut, nil
}

// Gather builds an engine dataset of the samples idx (in that order) of d.
func Gather(d *data.Dataset, idx []int) ml.Dataset {
	dim := d.Dim()
	x := make([]float32, len(idx)*dim)
	y := make([]int, len(idx))
	var lut [256]float32
	for i := range lut {
		lut[i] = float32(float64(i) / 255)
	}
	for j, i := range idx {
		row := x[j*dim : (j+1)*dim]
		if d.DType == data.Uint8 {
			for e, v := range d.U8[i*dim : (i+1)*dim] {
				row[e] = lut[v]
			}
		} else {
			copy(row, d.F32[i*dim:(i+1)*dim])
		}
		y[j] = d.Labels[i]
	}
	return ml.Dataset{X: x, Y: y, N: len(idx), Shape: append([]int(nil), d.Shape...), Classes: d.Classes}
}

// View is Gather's dataset without the copy, for uint8 datasets: an
// ml.Dataset view (Bytes, Rows) of d's bytes whose samples read as
// Gather's values (ml.ByteValue is the same x/255); float32 datasets are
// gathered.
func View(d *data.Dataset, idx []int) ml.Dataset {
	if d.DType != data.Uint8 {
		return Gather(d, idx)
	}
	y := make([]int, len(idx))
	for j, i := range idx {
		y[j] = d.Labels[i]
	}
	return ml.Dataset{Bytes: d.U8, Rows: idx, Y: y, N: len(idx), Shape: append([]int(nil), d.Shape...), Classes: d.Classes}
}

// Job is a job ready to train or replay: its Spec and its two datasets.
type Job struct {
	*Spec
	Train   ml.Dataset
	HeldOut ml.Dataset
	// TrainIdx and HeldOutIdx are the dataset indices behind them.
	TrainIdx, HeldOutIdx []int
}

// Prepare derives everything for job index of task over dataset d.
func Prepare(task *types.Task, index uint32, d *data.Dataset) (*Job, error) {
	s, tr, ho, err := specAndFolds(task, index, d)
	if err != nil {
		return nil, err
	}
	return &Job{Spec: s, Train: Gather(d, tr), HeldOut: Gather(d, ho), TrainIdx: tr, HeldOutIdx: ho}, nil
}

// specAndFolds is a job's Spec and its training and held-out indices.
func specAndFolds(task *types.Task, index uint32, d *data.Dataset) (*Spec, []int, []int, error) {
	s, err := ForJob(task, index, d.Shape, d.Classes)
	if err != nil {
		return nil, nil, nil, err
	}
	tr, ho, err := Folds(task, index, d.Labels, d.Split)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, tr, ho, nil
}

// Metrics measures a model's predictions on the held-out samples as the
// chain's ppm integers.
func Metrics(classes int, truth, pred []int) (types.FoldMetrics, error) {
	m, err := cv.Evaluate(classes, truth, pred)
	if err != nil {
		return types.FoldMetrics{}, err
	}
	return types.FoldMetrics{
		AccuracyPpm:       uint32(m.AccuracyPPM),
		F1MacroPpm:        uint32(m.F1MacroPPM),
		PrecisionMacroPpm: uint32(m.PrecisionMacroPPM),
		RecallMacroPpm:    uint32(m.RecallMacroPPM),
	}, nil
}
