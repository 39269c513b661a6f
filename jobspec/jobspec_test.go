package jobspec

import (
	"bytes"
	"errors"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/x/pouwml/types"
)

func testTask() *types.Task {
	cfg := types.ModelConfig{Architecture: "mlp", Layers: []uint32{4, 8, 3}, LearningRateE9: 100_000_000, BatchSize: 4, Epochs: 2,
		Optimizer: types.OPTIMIZER_SGD, Precision: types.PRECISION_FP32}
	return &types.Task{Id: 7, Seed: 42, FoldSeed: bytes.Repeat([]byte{0xab}, 32), Configs: []types.ModelConfig{cfg, cfg},
		Cv: types.CVConfig{Folds: 3, Stratified: true, Metric: types.METRIC_ACCURACY}}
}

func TestSeedVector(t *testing.T) {
	// Golden value: a change here is a protocol change.
	got := Seed(InitDomain, bytes.Repeat([]byte{0xab}, 32), 42, 7, 3)
	if got2 := Seed(InitDomain, bytes.Repeat([]byte{0xab}, 32), 42, 7, 3); got != got2 {
		t.Fatal("seed not deterministic")
	}
	if got == Seed(BatchDomain, bytes.Repeat([]byte{0xab}, 32), 42, 7, 3) || got == Seed(InitDomain, bytes.Repeat([]byte{0xab}, 32), 42, 7, 4) {
		t.Fatal("seed does not separate domains or jobs")
	}
	const want = uint64(0x46eda531d33c33c5) // python: sha256(domain + fold seed + struct.pack(">QQI", 42, 7, 3))[:8]
	if got != want {
		t.Fatalf("init seed %#x, want %#x", got, want)
	}
}

func TestModelSpec(t *testing.T) {
	for _, tc := range []struct {
		c       types.ModelConfig
		shape   []int
		classes int
		want    string
		err     error
	}{
		{types.ModelConfig{Architecture: "mlp", Layers: []uint32{784, 128, 10}}, []int{1, 28, 28}, 10, "mlp:784-128-10", nil},
		{types.ModelConfig{Architecture: "mlp", Layers: []uint32{780, 10}}, []int{1, 28, 28}, 10, "", ErrMismatch},
		{types.ModelConfig{Architecture: "mlp", Layers: []uint32{784, 9}}, []int{1, 28, 28}, 10, "", ErrMismatch},
		{types.ModelConfig{Architecture: "cnn", Layers: []uint32{16, 32}}, []int{1, 28, 28}, 10, "cnn:1x28x28-2x16-10", nil},
		{types.ModelConfig{Architecture: "cnn", Layers: []uint32{16, 16}}, []int{1, 28, 28}, 10, "", ErrUnsupported},
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{16}}, []int{1, 28, 28}, 10, "", ErrUnsupported},
		{types.ModelConfig{Architecture: "svm", Layers: []uint32{16}}, []int{1, 28, 28}, 10, "", ErrUnsupported},

		// resnet [BLOCK, WIDTH, D1..Dn]: the engine's default stem
		{types.ModelConfig{Architecture: "resnet", Layers: []uint32{1, 16, 3, 3, 3}}, []int{3, 32, 32}, 10, "resnet:3x32x32-basic-3.3.3-16-10", nil},
		{types.ModelConfig{Architecture: "resnet", Layers: []uint32{2, 64, 3, 4, 6, 3}}, []int{3, 224, 224}, 1000, "resnet:3x224x224-bottleneck-3.4.6.3-64-1000", nil},
		{types.ModelConfig{Architecture: "resnet", Layers: []uint32{1, 8, 1}}, []int{1, 28, 28}, 10, "resnet:1x28x28-basic-1-8-10", nil},
		{types.ModelConfig{Architecture: "resnet", Layers: []uint32{3, 8, 1}}, []int{1, 28, 28}, 10, "", ErrUnsupported},
		{types.ModelConfig{Architecture: "resnet", Layers: []uint32{1, 8}}, []int{1, 28, 28}, 10, "", ErrUnsupported},
		{types.ModelConfig{Architecture: "resnet", Layers: []uint32{1, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1}}, []int{1, 28, 28}, 10, "", ErrUnsupported},
		{types.ModelConfig{Architecture: "resnet", Layers: []uint32{1, 8, 1}}, []int{784}, 10, "", ErrMismatch},

		// transformer [LAYERS, DIM, HEADS, VOCAB, MLP_RATIO, FLAGS]
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{4, 256, 8, 256}}, []int{64}, 256, "transformer:64-256-4x256x8-256", nil},
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{4, 256, 8, 256, 4, 0}}, []int{64}, 256, "transformer:64-256-4x256x8-256", nil},
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{2, 32, 4, 300, 2}}, []int{16}, 5, "transformer:16-300-2x32x4-5,mlp=2", nil},
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{1, 12, 3, 50, 4, 1}}, []int{8}, 5, "transformer:8-50-1x12x3-5,causal", nil},
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{1, 12, 3, 50, 4, 2}}, []int{8}, 5, "transformer:8-50-1x12x3-5,pos=sin", nil},
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{1, 12, 3, 50, 4, 4}}, []int{8}, 5, "transformer:8-50-1x12x3-5,head=last", nil},
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{1, 12, 3, 50, 3, 7}}, []int{8}, 5, "transformer:8-50-1x12x3-5,mlp=3,pos=sin,causal,head=last", nil},
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{1, 12, 5, 50}}, []int{8}, 5, "", ErrUnsupported},       // heads do not divide
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{1, 12, 3, 50, 4, 8}}, []int{8}, 5, "", ErrUnsupported}, // unknown flag
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{1, 12, 3, 50}}, []int{1, 28, 28}, 10, "", ErrMismatch},
		{types.ModelConfig{Architecture: "transformer", Layers: []uint32{1, 12, 3, 50}}, []int{4097}, 10, "", ErrMismatch},

		// vit [PATCH, LAYERS, DIM, HEADS, MLP_RATIO]
		{types.ModelConfig{Architecture: "vit", Layers: []uint32{4, 6, 192, 3}}, []int{3, 32, 32}, 10, "vit:3x32x32-4-6x192x3-10", nil},
		{types.ModelConfig{Architecture: "vit", Layers: []uint32{7, 1, 8, 1, 3}}, []int{1, 28, 28}, 10, "vit:1x28x28-7-1x8x1-10,mlp=3", nil},
		{types.ModelConfig{Architecture: "vit", Layers: []uint32{5, 1, 8, 1}}, []int{1, 28, 28}, 10, "", ErrMismatch}, // 5 does not divide 28
		{types.ModelConfig{Architecture: "vit", Layers: []uint32{7, 1, 8, 3}}, []int{1, 28, 28}, 10, "", ErrUnsupported},
		{types.ModelConfig{Architecture: "vit", Layers: []uint32{7, 1, 8, 1}}, []int{64}, 10, "", ErrMismatch},
	} {
		got, err := ModelSpec(tc.c, tc.shape, tc.classes)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%v: got %q %v, want %q %v", tc.c.Layers, got, err, tc.want, tc.err)
		}
	}
}

// prepareDataset is 60 samples of 4 bytes, 3 classes, the last 10 test.
func prepareDataset() *data.Dataset {
	n := 60
	d := &data.Dataset{DType: data.Uint8, Shape: []int{4}, Classes: 3, U8: make([]byte, 4*n), Labels: make([]int, n), Split: make([]uint8, n)}
	for i := range n {
		d.Labels[i] = i % 3
		for e := range 4 {
			d.U8[4*i+e] = byte(i + e)
		}
		if i >= 50 {
			d.Split[i] = data.Test
		}
	}
	return d
}

func TestPrepare(t *testing.T) {
	d := prepareDataset()
	task := testTask()
	seen := map[int]int{}
	for j := uint32(0); j < 3; j++ {
		job, err := Prepare(task, j, d)
		if err != nil {
			t.Fatal(err)
		}
		if job.ModelSpec != "mlp:4-8-3" || job.Train.N+job.HeldOut.N != 50 {
			t.Fatalf("job %d: %s %d+%d", j, job.ModelSpec, job.Train.N, job.HeldOut.N)
		}
		for _, i := range job.HeldOutIdx {
			seen[i]++
			if i >= 50 {
				t.Fatalf("test sample %d in a fold", i)
			}
		}
		if job.Train.X[0] != float32(float64(d.U8[4*job.TrainIdx[0]])/255) {
			t.Fatal("inputs not scaled x/255")
		}
		again, _ := Prepare(task, j, d)
		if again.InitSeed != job.InitSeed || again.Train.N != job.Train.N {
			t.Fatal("not deterministic")
		}
	}
	if len(seen) != 50 {
		t.Fatalf("held-out folds cover %d samples, want 50", len(seen))
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("sample %d held out %d times", i, c)
		}
	}
	// Job 3 is config 1 fold 0: same folds as job 0, other seeds.
	a, _ := Prepare(task, 0, d)
	b, err := Prepare(task, 3, d)
	if err != nil || b.ConfigIndex != 1 || b.FoldIndex != 0 || len(a.HeldOutIdx) != len(b.HeldOutIdx) || a.InitSeed == b.InitSeed {
		t.Fatalf("job 3: %+v %v", b.Spec, err)
	}
	if _, err := Prepare(task, 6, d); !errors.Is(err, ErrMismatch) {
		t.Fatalf("job 6 of 2x3: %v", err)
	}
}

// TestPreparer: a Preparer's jobs equal Prepare's; jobs of one fold
// (configurations 0 and 1 of fold 0: jobs 0 and 3) share the gathered
// datasets; another dataset or fold gathers anew; only Keep folds stay.
func TestPreparer(t *testing.T) {
	d, task := prepareDataset(), testTask()
	p := &Preparer{Keep: 2}
	get := func(d *data.Dataset, j uint32) *Job {
		t.Helper()
		job, err := p.Prepare(task, j, d)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Prepare(task, j, d)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(job.Spec, want.Spec) || !slices.Equal(job.TrainIdx, want.TrainIdx) || !slices.Equal(job.HeldOutIdx, want.HeldOutIdx) {
			t.Fatalf("job %d: the Preparer's spec or folds differ from Prepare's", j)
		}
		for _, p := range [][2]ml.Dataset{{job.Train, want.Train}, {job.HeldOut, want.HeldOut}} {
			got, exp := p[0], p[1]
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
			if got.N != exp.N || !slices.Equal(got.Y, exp.Y) || !slices.Equal(got.Values(0, got.N, nil), exp.X) {
				t.Fatalf("job %d: the Preparer's samples differ from Prepare's", j)
			}
		}
		if job.Train.Bytes == nil || job.Train.X != nil {
			t.Fatalf("job %d: the training samples of a uint8 dataset are not a view", j)
		}
		return job
	}
	same := func(a, b *Job) bool {
		return &a.Train.Rows[0] == &b.Train.Rows[0] && &a.HeldOut.X[0] == &b.HeldOut.X[0]
	}
	j0 := get(d, 0)
	if j3 := get(d, 3); !same(j0, j3) || j3.InitSeed == j0.InitSeed {
		t.Fatal("jobs 0 and 3 (one fold) do not share their datasets, or share their seeds")
	}
	if j1 := get(d, 1); same(j0, j1) {
		t.Fatal("fold 1 shares fold 0's datasets")
	}
	if again := get(d, 0); !same(j0, again) {
		t.Fatal("fold 0 gathered again with 2 folds kept")
	}
	if other := get(prepareDataset(), 0); same(j0, other) {
		t.Fatal("another dataset's fold 0 shares the first one's")
	}
	// Kept now: the other dataset's fold 0, then d's fold 0; d's fold 1
	// was dropped.
	if again := get(d, 0); !same(j0, again) {
		t.Fatal("the most recent folds were not kept")
	}
	if len(p.folds) != 2 {
		t.Fatalf("%d folds kept, want 2", len(p.folds))
	}
	if _, err := p.Prepare(task, 6, d); !errors.Is(err, ErrMismatch) {
		t.Fatalf("job 6 of 2x3: %v", err)
	}
}

// TestViewTrainsAsGather: a trainer on a View of a uint8 dataset computes
// every bit a trainer on Gather's float32 copy does (the canonical
// batches read the same values), and evaluates the same.
func TestViewTrainsAsGather(t *testing.T) {
	d := prepareDataset()
	idx := []int{3, 1, 4, 15, 9, 26, 5, 35, 8, 47, 2, 33, 40, 12, 7, 21}
	run := func(ds ml.Dataset) ([32]byte, ml.EvalResult) {
		t.Helper()
		m, err := ml.NewModel("mlp:4-8-3", 7)
		if err != nil {
			t.Fatal(err)
		}
		cfg := ml.DefaultTrainConfig()
		cfg.BatchSize, cfg.Steps, cfg.Seed = 4, 12, 11
		tr, err := ml.NewTrainer(m, ds, cfg, cpu.MustNew(cpu.Options{Threads: 1}))
		if err != nil {
			t.Fatal(err)
		}
		for range cfg.Steps {
			if _, err := tr.Step(nil); err != nil {
				t.Fatal(err)
			}
		}
		ev, err := ml.Evaluate(m, ds, cpu.MustNew(cpu.Options{Threads: 1}), 5)
		if err != nil {
			t.Fatal(err)
		}
		return ml.WeightsHash(m), ev
	}
	v, g := View(d, idx), Gather(d, idx)
	if v.Bytes == nil {
		t.Fatal("View of a uint8 dataset copied it")
	}
	hv, ev := run(v)
	hg, eg := run(g)
	if hv != hg || ev != eg {
		t.Fatalf("view: weights %x, eval %+v; gathered: weights %x, eval %+v", hv, ev, hg, eg)
	}
	// A view's rows are checked.
	bad := v
	bad.Rows = append([]int(nil), v.Rows...)
	bad.Rows[2] = 60
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "sample 2 is row 60") {
		t.Fatalf("row past the bytes: %v", err)
	}
}

// TestTrainConfigPrecision: the task's precision becomes ml's storage
// precision (fp32 stays ml's default, so fp32 checkpoints are unchanged);
// an unknown one is unsupported.
func TestTrainConfigPrecision(t *testing.T) {
	c := testTask().Configs[0]
	for p, want := range map[types.Precision]string{types.PRECISION_FP32: "", types.PRECISION_UNSPECIFIED: "", types.PRECISION_BF16: "bf16", types.PRECISION_FP16: "fp16"} {
		c.Precision = p
		tc, err := TrainConfig(c, 1)
		if err != nil || tc.Precision != want {
			t.Fatalf("precision %s: %q, %v; expected %q", p, tc.Precision, err, want)
		}
	}
	c.Precision = 99
	if _, err := TrainConfig(c, 1); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("precision 99: %v, expected ErrUnsupported", err)
	}
}
