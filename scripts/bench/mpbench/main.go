package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/mnist"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func main() {
	model := flag.String("model", "mlp:784-256-10", "model of the throughput runs")
	batch := flag.Int("batch", 64, "batch size")
	micro := flag.Int("micro-batch", 32, "micro-batch size of the several-device runs")
	threads := flag.Int("threads", 1, "threads per device")
	devices := flag.Int("devices", 2, "CPU devices of the data-parallel runs")
	minTime := flag.Duration("min-time", 3*time.Second, "time per throughput measurement")
	rounds := flag.Int("rounds", 2, "measure every configuration this many times, alternating, and keep the best")
	flag.Parse()

	dir, err := mnist.FindDir()
	if err != nil {
		fail(err)
	}
	train, _, err := mnist.Load(dir)
	if err != nil {
		fail(err)
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Printf("activation memory held for backward, batch %d (ml.ActivationBytes)\n", *batch)
	fmt.Fprintln(tw, "model\tfp32 bytes\tbf16 bytes\tfp32/bf16\t")
	for _, spec := range []string{"mlp:784-256-10", "cnn:1x28x28-2x8-10"} {
		m, err := ml.NewModel(spec, 1)
		if err != nil {
			fail(err)
		}
		f, _ := ml.ActivationBytes(m, *batch, "fp32")
		b, _ := ml.ActivationBytes(m, *batch, "bf16")
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2fx\t\n", spec, f, b, float64(f)/float64(b))
	}
	tw.Flush()

	type conf struct {
		name      string
		precision string
		micro     int
		devices   int
	}
	confs := []conf{
		{"fp32, 1 device", "", 0, 1},
		{"bf16, 1 device", "bf16", 0, 1},
		{"fp16, 1 device", "fp16", 0, 1},
		{fmt.Sprintf("fp32, micro-batch %d, 1 device", *micro), "", *micro, 1},
		{fmt.Sprintf("fp32, micro-batch %d, %d devices", *micro, *devices), "", *micro, *devices},
		{fmt.Sprintf("bf16, micro-batch %d, %d devices", *micro, *devices), "bf16", *micro, *devices},
	}
	type result struct {
		best, perCPU float64
		hash         string
	}
	res := make([]result, len(confs))
	trainers := make([]*ml.Trainer, len(confs))
	for i, c := range confs {
		cfg := ml.DefaultTrainConfig()
		cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Epochs, cfg.Seed = 0.05, 0.9, *batch, 1000, 1
		cfg.Precision, cfg.MicroBatch = c.precision, c.micro
		m, err := ml.NewModel(*model, 1)
		if err != nil {
			fail(err)
		}
		var devs []accel.Backend
		for d := 0; d < c.devices; d++ {
			devs = append(devs, cpu.MustNew(cpu.Options{Threads: *threads}))
		}
		tr, err := ml.NewTrainer(m, train, cfg, devs[0])
		if err != nil {
			fail(err)
		}
		if err := tr.SetDevices(devs...); err != nil {
			fail(err)
		}
		for s := 0; s < 5; s++ { // warm up
			if _, err := tr.Step(nil); err != nil {
				fail(err)
			}
		}
		trainers[i] = tr
	}
	for r := 0; r < *rounds; r++ {
		for i, tr := range trainers {
			steps := 0
			c0, t0 := cpuSeconds(), time.Now()
			for time.Since(t0) < *minTime {
				if _, err := tr.Step(nil); err != nil {
					fail(err)
				}
				steps++
			}
			el, cpuS := time.Since(t0).Seconds(), cpuSeconds()-c0
			sps := float64(steps**batch) / el
			if sps > res[i].best {
				res[i].best = sps
				res[i].perCPU = float64(steps**batch) / cpuS
			}
		}
	}
	// Bits: the same steps from scratch give the same weights for any
	// device count (fp32 and bf16 micro-batch runs on 1 and on N devices).
	check := func(precision string, devices int) string {
		cfg := ml.DefaultTrainConfig()
		cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Steps, cfg.Epochs, cfg.Seed = 0.05, 0.9, *batch, 20, 0, 1
		cfg.Precision, cfg.MicroBatch = precision, *micro
		m, _ := ml.NewModel(*model, 1)
		var devs []accel.Backend
		for d := 0; d < devices; d++ {
			devs = append(devs, cpu.MustNew(cpu.Options{Threads: *threads}))
		}
		tr, err := ml.NewTrainer(m, train, cfg, devs[0])
		if err != nil {
			fail(err)
		}
		if err := tr.SetDevices(devs...); err != nil {
			fail(err)
		}
		out, err := tr.Run(context.Background(), nil)
		if err != nil {
			fail(err)
		}
		return out.WeightsSHA256
	}

	be := cpu.MustNew(cpu.Options{Threads: *threads})
	fmt.Printf("\ntraining throughput, %s, batch %d, %s, %d thread(s) per device, GOMAXPROCS %d, best of %d x %v\n",
		*model, *batch, be.Name(), *threads, cpu.MaxThreads(), *rounds, *minTime)
	fmt.Fprintln(tw, "configuration\tsamples/s\tvs fp32\tsamples per CPU-second\t")
	for i, c := range confs {
		fmt.Fprintf(tw, "%s\t%.0f\t%.2fx\t%.0f\t\n", c.name, res[i].best, res[i].best/res[0].best, res[i].perCPU)
	}
	tw.Flush()
	for _, p := range []string{"", "bf16"} {
		a, b := check(p, 1), check(p, *devices)
		name := p
		if name == "" {
			name = "fp32"
		}
		same := "identical"
		if a != b {
			same = "DIFFERENT"
		}
		fmt.Printf("%s, micro-batch %d, 20 steps: 1 device %s, %d devices %s: %s\n", name, *micro, a[:16], *devices, b[:16], same)
		if a != b {
			os.Exit(1)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mpbench:", err)
	os.Exit(1)
}
