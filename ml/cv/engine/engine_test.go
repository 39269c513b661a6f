package engine

import (
	"context"
	"runtime"
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/cv"
	"github.com/pouw/pouwd/ml/data"
)

// Real MNIST, real engine: a small stratified CV over two architectures and
// two learning rates gives sensible, reproducible results.
func TestCVOnMNIST(t *testing.T) {
	dir, err := data.DefaultMNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := data.LoadIDXDir(dir, data.MNISTClassNames)
	if err != nil {
		t.Fatal(err)
	}
	be, err := cpu.New(cpu.Options{Threads: 2, Kernel: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	base := ml.DefaultTrainConfig()
	base.BatchSize = 32
	base.Epochs = 3
	tr := New(d, be, base)
	g, err := cv.ParseGrid([]string{"lr=0.1,0.02"}, tr.Schema())
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := cv.Expand([]string{"mlp:784-32-10", "centroid"}, g[:0])
	if err != nil {
		t.Fatal(err)
	}
	mlps, _ := cv.Expand([]string{"mlp:784-32-10"}, g)
	cfgs = append(mlps, cfgs[1])
	idx := make([]int, 1500)
	labels := make([]int, len(idx))
	for i := range idx {
		idx[i], labels[i] = i, d.Labels[i]
	}
	hold := []int{60000, 60001, 60002, 60003, 60004, 60005, 60006, 60007, 60008, 60009}
	var holdLabels []int
	for _, h := range hold {
		holdLabels = append(holdLabels, d.Labels[h])
	}
	run := func(workers int) *cv.Report {
		rep, err := cv.Run(context.Background(), tr, 10, labels, idx, cfgs, cv.Options{
			Folds: cv.FoldSpec{K: 3, Stratified: true, Shuffle: true, Seed: 7}, Holdout: hold, HoldoutLabels: holdLabels,
			Workers: workers,
		})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	a := run(1)
	b := run(2) // jobs in parallel on one backend: same bits
	for i, c := range a.Configs {
		t.Logf("%-28s mean %.4f std %.4f params %d rank %d soft %.2f hard %.2f", c.Name, c.Mean, c.Std, c.Params, c.Rank, c.Soft.Accuracy, c.Hard.Accuracy)
		if c.MeanPPM != b.Configs[i].MeanPPM || c.StdPPM != b.Configs[i].StdPPM || c.Soft.AccuracyPPM != b.Configs[i].Soft.AccuracyPPM {
			t.Errorf("%s: not reproducible: %d/%d vs %d/%d ppm", c.Name, c.MeanPPM, c.StdPPM, b.Configs[i].MeanPPM, b.Configs[i].StdPPM)
		}
		if c.Mean < 0.6 {
			t.Errorf("%s: mean accuracy %.3f on MNIST, expected > 0.6", c.Name, c.Mean)
		}
	}
	if a.Configs[0].Params != 784*32+32+32*10+10 || a.Configs[2].Params != 7840 {
		t.Errorf("params %d / %d", a.Configs[0].Params, a.Configs[2].Params)
	}
	// a spec that does not fit the data is refused with a clear error
	_, err = tr.Fit(context.Background(), cv.Config{Model: "mlp:100-10"}, idx[:10], func(int, int) {})
	if err == nil {
		t.Fatal("mlp:100-10 accepted for 784-wide samples")
	}
}

// The lazy reader trains the same bits as the in-memory dataset.
func TestLazyMatchesMemory(t *testing.T) {
	dir, err := data.DefaultMNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir() + "/mnist"
	r, err := (*data.Cache)(nil).Prepare(data.Options{Kind: data.KindMNIST, Path: dir}, nil, out)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := data.Open(out, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	lz, ok := s.(*data.Lazy)
	if !ok {
		t.Fatal("not lazy")
	}
	defer lz.Close()
	be, _ := cpu.New(cpu.Options{Threads: 1, Kernel: "auto"})
	base := ml.DefaultTrainConfig()
	train := make([]int, 512)
	for i := range train {
		train[i] = i * 97
	}
	var logits [2][]float32
	for k, tr := range []*Trainer{New(r.Dataset, be, base), NewSamples(lz, r.Dataset.Shape, 10, data.Uint8, be, base)} {
		m, err := tr.Fit(context.Background(), cv.Config{Model: "mlp:784-16-10"}, train, func(int, int) {})
		if err != nil {
			t.Fatal(err)
		}
		if logits[k], err = m.Logits(context.Background(), []int{60000, 60001, 69999}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range logits[0] {
		if logits[0][i] != logits[1][i] {
			t.Fatalf("logit %d: memory %v, lazy %v", i, logits[0][i], logits[1][i])
		}
	}
}

// With a memory budget smaller than the training fold, the fold is read
// from a memory-mapped file: same weights, heap far below the fold size.
func TestSpillToDisk(t *testing.T) {
	dir, err := data.DefaultMNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := data.LoadIDXDir(dir, data.MNISTClassNames)
	if err != nil {
		t.Fatal(err)
	}
	be, _ := cpu.New(cpu.Options{Threads: 2, Kernel: "auto"})
	base := ml.DefaultTrainConfig()
	base.BatchSize = 128
	train := make([]int, 20000) // 62.7 MB of float32 rows
	for i := range train {
		train[i] = i * 3
	}
	const budget = 8 << 20
	run := func(budget int64) ([]float32, uint64) {
		tr := New(d, be, base)
		tr.MemoryBudget, tr.SpillDir = budget, t.TempDir()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		var peak uint64
		m, err := tr.Fit(context.Background(), cv.Config{Model: "mlp:784-16-10"}, train, func(done, total int) {
			if done%8 == 0 {
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base {
					peak = max(peak, ms.HeapAlloc-base)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		lg, err := m.Logits(context.Background(), []int{60000, 65000, 69999})
		if err != nil {
			t.Fatal(err)
		}
		return lg, peak
	}
	memLogits, memPeak := run(0)
	diskLogits, diskPeak := run(budget)
	t.Logf("training fold 62.7 MB: heap peak %.1f MB in memory, %.1f MB spilled (budget %d MB)", float64(memPeak)/(1<<20), float64(diskPeak)/(1<<20), budget>>20)
	for i := range memLogits {
		if memLogits[i] != diskLogits[i] {
			t.Fatalf("logit %d: %v in memory, %v spilled", i, memLogits[i], diskLogits[i])
		}
	}
	if memPeak < 60<<20 {
		t.Fatalf("in-memory peak %d bytes: the heap probe does not see the fold", memPeak)
	}
	// The engine's own transient heap (activations, gradients, garbage
	// between collections) is the in-memory peak minus the fold; what the
	// spilled run holds beyond that must fit the budget.
	fold := uint64(len(train) * 784 * 4)
	engine := memPeak - fold
	if diskPeak > engine+budget {
		t.Fatalf("spilled training peaked at %d heap bytes: engine %d + budget %d exceeded", diskPeak, engine, budget)
	}
}
