package jobspec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Fuzz targets of the mapping from chain records to engine work: a miner
// and a verifier run jobspec on whatever task and dataset records the
// chain holds, so for any configuration, shape, class count, fold count
// and dataset it must return an error (ErrUnsupported or ErrMismatch),
// never panic or hand the engine a model other than the one the chain
// counted. Committed seeds: testdata/fuzz/<target>/; regenerate them with
// POUWD_WRITE_FUZZ_SEEDS=1 go test -run TestWriteJobspecFuzzSeeds ./jobspec

// fuzzReader hands out the bytes of a fuzz input as small values (zero
// past the end).
type fuzzReader struct{ b []byte }

func (r *fuzzReader) u8() uint8 {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fuzzReader) u16() uint16 { return uint16(r.u8()) | uint16(r.u8())<<8 }

// layer is a layer entry: one byte, or with its high bit set a 16-bit
// value, or 0xff followed by a full uint32 (large and zero widths).
func (r *fuzzReader) layer() uint32 {
	v := r.u8()
	switch {
	case v == 0xff:
		return uint32(r.u16()) | uint32(r.u16())<<16
	case v&0x80 != 0:
		return uint32(v&0x7f)<<8 | uint32(r.u8())
	}
	return uint32(v)
}

// modelInput decodes an architecture, layers, a sample shape and a class
// count.
func modelInput(in []byte) (types.ModelConfig, []int, int) {
	r := &fuzzReader{b: in}
	arch := r.u8()
	c := types.ModelConfig{Architecture: "svm"}
	if int(arch) < 5*len(types.Architectures) {
		c.Architecture = types.Architectures[int(arch)%len(types.Architectures)]
	}
	for n := int(r.u8() % 12); n > 0; n-- {
		c.Layers = append(c.Layers, r.layer())
	}
	var shape []int
	for n := 1 + int(r.u8()%4); n > 0; n-- {
		shape = append(shape, int(r.layer()))
	}
	return c, shape, int(r.layer())
}

// maxBuilt is the largest model (parameters) the fuzz targets build to
// compare the engine's count with the chain's.
const maxBuilt = 20_000

// FuzzModelSpec: for any layers, architecture, sample shape and class
// count, the chain's rule over a dataset record (types.DatasetModelParams)
// agrees with its shape-only rule, and ModelSpec returns a spec or an
// error wrapping ErrUnsupported or
// ErrMismatch that names jobspec; never a panic. A spec it returns is one
// the chain's rule accepts (types.ModelParams), that the engine parses, is
// the same on every call, and builds (when small) a model with exactly the
// parameters the chain counted.
func FuzzModelSpec(f *testing.F) {
	for _, s := range jobspecFuzzSeeds()["FuzzModelSpec"] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, shape, classes := modelInput(in)
		// The chain's rule over a registered dataset record (the keeper's
		// SubmitTask check) agrees with the shape-only rule, text datasets
		// adding the byte vocabulary.
		u32 := make([]uint32, len(shape))
		for i, d := range shape {
			u32[i] = uint32(d)
		}
		for _, format := range []types.DatasetFormat{types.DATASET_FORMAT_CSV, types.DATASET_FORMAT_TEXT} {
			dn, derr := types.DatasetModelParams(c, types.Dataset{Format: format, FeatureShape: u32, NumClasses: uint32(classes)})
			pn, perr := types.ModelParams(c, u32, uint32(classes))
			smallVocab := false
			if tl, err := c.Transformer(); err == nil && c.Architecture == "transformer" && format == types.DATASET_FORMAT_TEXT {
				smallVocab = tl.Vocab < types.TextClasses
			}
			if (derr != nil) != (perr != nil || smallVocab) || derr == nil && dn != pn {
				t.Fatalf("%s %v on %v (%s): dataset rule %d (%v), shape rule %d (%v)", c.Architecture, c.Layers, shape, format, dn, derr, pn, perr)
			}
		}
		spec, err := ModelSpec(c, shape, classes)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMismatch) || !strings.HasPrefix(err.Error(), "jobspec: ") {
				t.Fatalf("%s %v on %v, %d classes: error %q wraps neither ErrUnsupported nor ErrMismatch", c.Architecture, c.Layers, shape, classes, err)
			}
			if spec != "" {
				t.Fatalf("a spec %q with an error", spec)
			}
			return
		}
		sh := make([]uint32, len(shape))
		for i, d := range shape {
			sh[i] = uint32(d)
		}
		n, perr := types.ModelParams(c, sh, uint32(classes))
		if perr != nil || slices.Max(shape) > types.MaxShapeDim || classes > types.MaxClasses {
			t.Fatalf("%s %v on %v, %d classes: spec %q, but the chain's rule refuses it: %v", c.Architecture, c.Layers, shape, classes, spec, perr)
		}
		if again, err := ModelSpec(c, shape, classes); again != spec || err != nil {
			t.Fatalf("not deterministic: %q then %q (%v)", spec, again, err)
		}
		if _, err := ml.ParseSpec(spec); err != nil {
			t.Fatalf("%s %v on %v: the engine refuses its spec %q: %v", c.Architecture, c.Layers, shape, spec, err)
		}
		if n > maxBuilt {
			return
		}
		m, err := ml.NewModel(spec, 1)
		if err != nil {
			t.Fatalf("spec %q (%d parameters on chain) does not build: %v", spec, n, err)
		}
		if uint64(m.NumParams()) != n {
			t.Fatalf("spec %q: the engine has %d parameters, the chain counted %d", spec, m.NumParams(), n)
		}
	})
}

// prepareInput decodes a task (fold count, stratification, fold seed,
// configurations, the job index) and a dataset (uint8 samples, labels,
// split) from in.
func prepareInput(in []byte) (*types.Task, uint32, *data.Dataset) {
	r := &fuzzReader{b: in}
	task := &types.Task{Id: uint64(r.u16()), Seed: uint64(r.u16())}
	folds := r.u8()
	switch {
	case folds == 0xff:
		task.Cv.Folds = uint32(r.u16()) << 16 // a fold count far over the samples
	default:
		task.Cv.Folds = uint32(folds % 12)
	}
	flags := r.u8()
	task.Cv.Stratified = flags&1 != 0
	switch {
	case flags&2 != 0:
		task.FoldSeed = nil // not drawn yet
	case flags&4 != 0:
		task.FoldSeed = make([]byte, 31)
	default:
		task.FoldSeed = make([]byte, 32)
		binary.LittleEndian.PutUint64(task.FoldSeed, uint64(r.u16())<<7|uint64(flags))
	}
	dim := 1 + int(r.u8()%4)
	classes := 1 + int(r.u8()%6)
	n := int(r.u8() % 64)
	for k := int(r.u8() % 4); k > 0; k-- {
		c := types.ModelConfig{Architecture: "mlp", Layers: []uint32{uint32(dim), uint32(2 + r.u8()%6), uint32(classes)},
			LearningRateE9: 100_000_000, BatchSize: 1 + uint32(r.u8()%8), Epochs: 1, Optimizer: types.OPTIMIZER_SGD}
		switch v := r.u8(); v % 8 {
		case 1:
			c.Layers[0]++ // does not fit the samples
		case 2:
			c.Layers = c.Layers[:1]
		case 3:
			c.Optimizer = types.OPTIMIZER_UNSPECIFIED
		case 4:
			c.BatchSize = 0
		case 5:
			c.Architecture, c.Layers = "cnn", []uint32{4, 8}
		}
		task.Configs = append(task.Configs, c)
	}
	index := uint32(r.u8())
	if index == 0xff {
		index = uint32(r.u16())<<16 | uint32(r.u16())
	}
	d := &data.Dataset{DType: data.Uint8, Shape: []int{dim}, Classes: classes}
	for i := 0; i < n; i++ {
		d.Labels = append(d.Labels, int(r.u8())%classes)
		d.Split = append(d.Split, r.u8()%3)
		for e := 0; e < dim; e++ {
			d.U8 = append(d.U8, r.u8())
		}
	}
	return task, index, d
}

// FuzzPrepare: for any task (fold count, fold seed, configurations, job
// index) over any consistent dataset, Prepare returns a job or an error
// naming jobspec or the fold rule; never a panic. A job trains on and
// holds out exactly the CV pool between them (disjoint, ascending), its
// samples are the dataset's (x/255, the labels at those indices), the
// held-out folds of all the configuration's jobs partition the pool, and
// a second call gives the same job.
func FuzzPrepare(f *testing.F) {
	for _, s := range jobspecFuzzSeeds()["FuzzPrepare"] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		task, index, d := prepareInput(in)
		job, err := Prepare(task, index, d)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMismatch) && !strings.HasPrefix(err.Error(), "cv: ") {
				t.Fatalf("task %d job %d: error %q names neither jobspec nor the fold rule", task.Id, index, err)
			}
			return
		}
		pool := data.CVPool(d.Split)
		all := append(append([]int(nil), job.TrainIdx...), job.HeldOutIdx...)
		slices.Sort(all)
		if !slices.Equal(all, pool) && !(len(all) == 0 && len(pool) == 0) {
			t.Fatalf("train %v + held out %v is not the CV pool %v", job.TrainIdx, job.HeldOutIdx, pool)
		}
		for _, idx := range [][]int{job.TrainIdx, job.HeldOutIdx} {
			if !slices.IsSorted(idx) || len(slices.Compact(slices.Clone(idx))) != len(idx) {
				t.Fatalf("indices %v not strictly ascending", idx)
			}
		}
		dim := d.Dim()
		for _, s := range []struct {
			set ml.Dataset
			idx []int
		}{{job.Train, job.TrainIdx}, {job.HeldOut, job.HeldOutIdx}} {
			if s.set.N != len(s.idx) || len(s.set.X) != s.set.N*dim || len(s.set.Y) != s.set.N || s.set.Classes != d.Classes {
				t.Fatalf("a set of %d samples (%d values, %d labels) for %d indices", s.set.N, len(s.set.X), len(s.set.Y), len(s.idx))
			}
			for j, i := range s.idx {
				if s.set.Y[j] != d.Labels[i] || s.set.X[j*dim] != float32(float64(d.U8[i*dim])/255) {
					t.Fatalf("sample %d is not dataset sample %d", j, i)
				}
			}
		}
		if job.ConfigIndex != index/task.Cv.Folds || job.FoldIndex != index%task.Cv.Folds || job.JobIndex != index {
			t.Fatalf("job %d is config %d fold %d with %d folds", index, job.ConfigIndex, job.FoldIndex, task.Cv.Folds)
		}
		again, err := Prepare(task, index, d)
		if err != nil || again.ModelSpec != job.ModelSpec || again.InitSeed != job.InitSeed || again.Config != job.Config ||
			!slices.Equal(again.HeldOutIdx, job.HeldOutIdx) {
			t.Fatalf("not deterministic: %v", err)
		}
		// The configuration's jobs hold out every pool sample once.
		seen := map[int]int{}
		base := job.ConfigIndex * task.Cv.Folds
		for fold := uint32(0); fold < task.Cv.Folds; fold++ {
			j, err := Prepare(task, base+fold, d)
			if err != nil {
				t.Fatalf("job %d prepared, job %d of the same configuration fails: %v", index, base+fold, err)
			}
			for _, i := range j.HeldOutIdx {
				seen[i]++
			}
		}
		for _, i := range pool {
			if seen[i] != 1 {
				t.Fatalf("pool sample %d held out %d times over the %d folds", i, seen[i], task.Cv.Folds)
			}
		}
	})
}

// modelSeed encodes a FuzzModelSpec input: architecture index, layers
// (each as modelInput reads it), shape and classes.
func modelSeed(arch int, layers []uint32, shape []int, classes int) []byte {
	enc := func(v uint32) []byte {
		if v < 0x80 {
			return []byte{byte(v)}
		}
		if v < 0x8000 {
			return []byte{0x80 | byte(v>>8), byte(v)}
		}
		return []byte{0xff, byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	}
	b := []byte{byte(arch), byte(len(layers))}
	for _, l := range layers {
		b = append(b, enc(l)...)
	}
	b = append(b, byte(len(shape)-1))
	for _, d := range shape {
		b = append(b, enc(uint32(d))...)
	}
	return append(b, enc(uint32(classes))...)
}

func jobspecFuzzSeeds() map[string][][]byte {
	// prep lays out prepareInput's fields in its order; index is the job
	// index byte (0xff: four more bytes follow in rest).
	prep := func(folds, flags, dim, classes, n, configs, index byte, rest ...byte) []byte {
		b := []byte{7, 0, 42, 0, folds}
		if folds == 0xff {
			b = append(b, 1, 0) // 1<<16 folds
		}
		b = append(b, flags)
		if flags&6 == 0 {
			b = append(b, 0x5e, 0xed) // fold seed bytes
		}
		b = append(b, dim-1, classes-1, n, configs)
		for i := byte(0); i < configs; i++ {
			b = append(b, 3, 3, 0) // hidden width 5, batch 4, fits
		}
		b = append(append(b, index), rest...)
		for i := 0; i < int(n)*(2+int(dim)); i++ {
			b = append(b, byte(i*37+11))
		}
		return b
	}
	return map[string][][]byte{
		"FuzzModelSpec": {
			modelSeed(0, []uint32{4, 8, 3}, []int{4}, 3),
			modelSeed(1, []uint32{4, 8}, []int{1, 8, 8}, 10),
			modelSeed(2, []uint32{1, 4, 1, 1}, []int{3, 8, 8}, 5),
			modelSeed(2, []uint32{2, 2, 1}, []int{1, 8, 8}, 3),
			modelSeed(3, []uint32{1, 8, 2, 16, 2, 7}, []int{6}, 4),
			modelSeed(4, []uint32{4, 1, 8, 2, 2}, []int{1, 8, 8}, 3),
			modelSeed(0, []uint32{4, 1 << 30, 3}, []int{4}, 3),
			modelSeed(1, []uint32{4, 8, 16, 32}, []int{1, 4, 4}, 2),
			modelSeed(3, []uint32{1, 8, 2, 16}, []int{5000}, 4),
		},
		"FuzzPrepare": {
			prep(3, 1, 4, 3, 30, 2, 4),               // stratified 3 folds, job 4 (config 1 fold 1)
			prep(5, 0, 2, 2, 20, 1, 4),               // plain 5 folds
			prep(0xff, 1, 1, 2, 10, 1, 0),            // 65536 folds over 10 samples
			prep(2, 2, 1, 2, 10, 1, 0),               // no fold seed yet
			prep(4, 1, 3, 5, 12, 3, 11),              // stratified, 5 classes in 12 samples
			prep(3, 0, 2, 2, 9, 1, 0xff, 0, 0, 0, 1), // job 1<<24
			prep(2, 0, 2, 3, 0, 1, 0),                // no samples
		},
	}
}

func TestWriteJobspecFuzzSeeds(t *testing.T) {
	if os.Getenv("POUWD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POUWD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	for name, ss := range jobspecFuzzSeeds() {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range ss {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestModelSpecFollowsChainRule: mlp and cnn configurations the chain's
// rule refuses were mapped to specs (a hidden width of 2^30 the engine
// would try to allocate; more cnn blocks than the images have pixels for)
// until FuzzModelSpec found them; they are ErrMismatch like the other
// architectures'.
func TestModelSpecFollowsChainRule(t *testing.T) {
	for _, tc := range []struct {
		c     types.ModelConfig
		shape []int
	}{
		{types.ModelConfig{Architecture: "mlp", Layers: []uint32{4, 1 << 30, 3}}, []int{4}},
		{types.ModelConfig{Architecture: "mlp", Layers: []uint32{4, 0, 3}}, []int{4}},
		{types.ModelConfig{Architecture: "mlp", Layers: []uint32{0, 3}}, []int{2, 0}},
		{types.ModelConfig{Architecture: "cnn", Layers: []uint32{4, 8, 16, 32}}, []int{1, 4, 4}},
		{types.ModelConfig{Architecture: "cnn", Layers: []uint32{4}}, []int{1, 1 << 20, 2}},
	} {
		spec, err := ModelSpec(tc.c, tc.shape, 3)
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("%s %v on %v: spec %q, error %v; expected ErrMismatch", tc.c.Architecture, tc.c.Layers, tc.shape, spec, err)
		}
	}
}
