package ml

import (
	"math"
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
)

// TestOptimizerParallelSameBits: SGD (plain, momentum, weight decay) and
// Adam/AdamW updates split over 1, 2 and 3 workers (parallelUpdate, with
// tensors larger and smaller than a chunk) leave the same bits as the
// serial update, step after step.
func TestOptimizerParallelSameBits(t *testing.T) {
	shapes := [][]int{{300_001}, {7}, {3 * optimizerChunk}, {1}, {optimizerChunk + 5}}
	makeParams := func() []*Param {
		var ps []*Param
		for i, sh := range shapes {
			p := newParam("p"+string(rune('a'+i)), sh...)
			for j := range p.T.Data {
				p.T.Data[j] = float32(math.Sin(float64(i*1_000_003+j))) * 0.5
			}
			ps = append(ps, p)
		}
		return ps
	}
	setGrads := func(ps []*Param, step int) {
		for i, p := range ps {
			g := p.T.grad()
			for j := range g {
				g[j] = float32(math.Cos(float64(step*7919+i*104729+j))) * 0.01
			}
		}
	}
	configs := []TrainConfig{
		{Optimizer: "sgd", LR: 0.1},
		{Optimizer: "sgd", LR: 0.05, Momentum: 0.9},
		{Optimizer: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 1e-3},
		{Optimizer: "adam", LR: 1e-3, WeightDecay: 1e-2},
		{Optimizer: "adamw", LR: 1e-3, WeightDecay: 1e-2},
	}
	for _, cfg := range configs {
		var want [][]float32
		for _, threads := range []int{0, 1, 2, 3} { // 0: serial (no par)
			ps := makeParams()
			o, err := NewOptimizer(cfg, ps)
			if err != nil {
				t.Fatal(err)
			}
			if threads > 0 {
				be := cpu.MustNew(cpu.Options{Threads: threads})
				o.(parallelOptimizer).setParallel((&Ctx{Backend: be}).parallelFor)
			}
			for step := 0; step < 3; step++ {
				setGrads(ps, step)
				o.Step(ps)
				for _, p := range ps {
					p.T.gradOK = false
				}
			}
			var got [][]float32
			for _, p := range ps {
				got = append(got, p.T.Data)
			}
			for _, st := range o.State() {
				got = append(got, st.Data)
			}
			if want == nil {
				want = got
				continue
			}
			for i := range want {
				for j := range want[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("%s momentum %g wd %g, %d threads: tensor %d value %d is %x, serial %x", cfg.Optimizer, cfg.Momentum, cfg.WeightDecay,
							threads, i, j, math.Float32bits(got[i][j]), math.Float32bits(want[i][j]))
					}
				}
			}
		}
	}
}
