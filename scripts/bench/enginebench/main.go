package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
)

type result struct {
	Name    string  `json:"name"`
	Threads int     `json:"threads"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	// PerCPU is the work per second of process CPU time (user+system) over
	// the whole measurement: robust to time slicing on a shared machine.
	PerCPU float64 `json:"per_cpu_second"`
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func main() {
	threads := flag.Int("threads", 1, "threads")
	minTime := flag.Duration("min-time", 2*time.Second, "minimum time per measurement")
	only := flag.String("only", "", "run only this benchmark")
	flag.Parse()
	be := cpu.MustNew(cpu.Options{Threads: *threads})
	enc := json.NewEncoder(os.Stdout)
	emit := func(name string, v float64, unit string, perCPU float64) {
		_ = enc.Encode(result{Name: name, Threads: *threads, Value: v, Unit: unit, PerCPU: perCPU})
	}
	r := rand.New(rand.NewPCG(1, 2))
	randn := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	for _, g := range []struct {
		name    string
		m, n, k int
	}{{"gemm_1024x1024x1024", 1024, 1024, 1024}, {"gemm_512x784x128", 512, 128, 784}} {
		if *only != "" && *only != g.name {
			continue
		}
		a, b, c := randn(g.m*g.k), randn(g.k*g.n), make([]float32, g.m*g.n)
		be.Gemm(false, false, g.m, g.n, g.k, a, g.k, b, g.n, c, g.n) // warm up
		best := 0.0
		deadline := time.Now().Add(*minTime)
		c0, runs := cpuSeconds(), 0
		for time.Now().Before(deadline) {
			t0 := time.Now()
			be.Gemm(false, false, g.m, g.n, g.k, a, g.k, b, g.n, c, g.n)
			runs++
			if gf := 2 * float64(g.m*g.n*g.k) / time.Since(t0).Seconds() / 1e9; gf > best {
				best = gf
			}
		}
		emit(g.name, best, "GFLOP/s", 2*float64(g.m*g.n*g.k)*float64(runs)/(cpuSeconds()-c0)/1e9)
	}
	for _, tc := range []struct {
		name, spec string
		batch      int
	}{
		{"mlp_784-256-10_b64", "mlp:784-256-10", 64},
		{"mlp_784-256-10_b256", "mlp:784-256-10", 256},
		{"cnn_small_b64", "cnn:1x28x28-2x8-10", 64},
		{"resnet20_b128", "resnet:3x32x32-resnet20-10", 128},
		{"resnet50_64px_b32", "resnet:3x64x64-resnet50-10", 32},
		{"transformer_d256_l4_s128_b32", "transformer:128-256-4x256x8-256,causal,head=last", 32},
		{"vit_d192_l6_b64", "vit:3x32x32-4-6x192x3-10", 64},
	} {
		if *only != "" && *only != tc.name {
			continue
		}
		m, err := ml.NewModel(tc.spec, 1)
		if err != nil {
			panic(err)
		}
		n := 8192
		if m.SampleSize() > 1024 { // CIFAR-sized samples: a smaller pool
			n = 1024
		}
		d := ml.SyntheticDataset(m, n, 1)
		cfg := ml.DefaultTrainConfig()
		cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Epochs = 0.01, 0.9, tc.batch, 1000
		tr, err := ml.NewTrainer(m, d, cfg, be)
		if err != nil {
			panic(err)
		}
		warm := 5
		if tc.batch >= 128 {
			warm = 2
		}
		for i := 0; i < warm; i++ { // warm up
			if _, err := tr.Step(nil); err != nil {
				panic(err)
			}
		}
		best := 0.0
		c0, total := cpuSeconds(), 0
		for rep := 0; rep < 3; rep++ {
			steps := 0
			t0 := time.Now()
			for time.Since(t0) < *minTime/3 {
				if _, err := tr.Step(nil); err != nil {
					panic(err)
				}
				steps++
			}
			total += steps * tc.batch
			if sps := float64(steps*tc.batch) / time.Since(t0).Seconds(); sps > best {
				best = sps
			}
		}
		emit(tc.name, best, "samples/s", float64(total)/(cpuSeconds()-c0))
	}
	fmt.Fprintln(os.Stderr, "backend", be.Name(), "threads", be.Threads())
}
