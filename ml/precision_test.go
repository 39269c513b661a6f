package ml_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
)

// precisionConfig is goldenConfig for 50 steps at a precision and
// micro-batch size.
func precisionConfig(precision string, micro int) ml.TrainConfig {
	cfg := goldenConfig()
	cfg.Steps, cfg.Precision, cfg.MicroBatch = 50, precision, micro
	return cfg
}

// Golden weights SHA-256 after 50 mixed-precision or micro-batch steps on
// MNIST (precisionConfig): every kernel, thread count, device count and
// GOARCH, and the purego build, must reproduce them.
var precisionGoldens = []struct {
	name, spec, precision string
	micro                 int
	want                  string
}{
	{"mlp/bf16", "mlp:784-64-10", "bf16", 0, "b720760e8029aa6cb7fc4196ae2e14b2725d3efd5096713f2386b5afa9845ece"},
	{"mlp/fp16", "mlp:784-64-10", "fp16", 0, "c7394d76ca8acce4d63c7a3d7f277bd492859edaf23ca76529c6e157dd5f3bc7"},
	{"cnn/bf16", "cnn:1x28x28-2x8-10", "bf16", 0, "86ec91543dc0384e45effc933eceaadb3f0bc0b6d687688165412c01ebe5a864"},
	{"cnn/fp16", "cnn:1x28x28-2x8-10", "fp16", 0, "d194bd18b80ba862915e604a73117c6cd306a3e8498f23260f7be6bfbe9e59e2"},
	{"mlp/fp32/mb16", "mlp:784-64-10,norm=batch,dropout=0.1", "", 16, "cbcfe689ef2fec60ea8bf7c7006c5c6b757e779b79107865ec9284c930e9a15d"},
	{"cnn/bf16/mb16", "cnn:1x28x28-2x8-10,bn", "bf16", 16, "40cda1acc3c3e3647df8e35f14a3e72d3fc8ab11924d7295832338657b345997"},
}

// TestPrecisionGolden reproduces the mixed-precision and micro-batch
// golden hashes with every available kernel at 1 and 2 threads (micro-batch
// runs: on 1 and 2 devices). With assembly kernels the pure-Go kernel runs
// the MLPs only (the pure-Go CNN takes 15 s here and the fp32 goldens and
// accel/cpu cover that kernel); under -tags purego it runs everything.
func TestPrecisionGolden(t *testing.T) {
	train, _ := loadMNIST(t)
	kernels := append(cpu.Kernels(), "go")
	for _, g := range precisionGoldens {
		for _, k := range kernels {
			for _, th := range []int{1, 2} {
				if k == "go" && len(kernels) > 1 && (th == 2 || strings.HasPrefix(g.name, "cnn")) {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/t%d", g.name, k, th), func(t *testing.T) {
					cfg := precisionConfig(g.precision, g.micro)
					var got string
					if g.micro > 0 {
						devs := make([]accel.Backend, th)
						for i := range devs {
							devs[i] = cpu.MustNew(cpu.Options{Threads: 1, Kernel: k})
						}
						_, res := parallelRunSeed(t, g.spec, cfg, train, devs, cfg.Seed)
						got = res.WeightsSHA256
					} else {
						got = trainHash(t, g.spec, cfg, cpu.Options{Threads: th, Kernel: k}, train)
					}
					if got != g.want {
						t.Errorf("%s in %q, micro-batch %d, after 50 steps with kernel %s, %d threads/devices: weights SHA-256 %s, golden %s",
							g.spec, g.precision, g.micro, k, th, got, g.want)
					}
				})
			}
		}
	}
}

// TestPrecisionChangesTheBits checks that the precision is part of the
// computation (bf16, fp16 and fp32 train to different weights) and that
// mixed precision still learns.
func TestPrecisionChangesTheBits(t *testing.T) {
	train, _ := loadMNIST(t)
	data := subset(train, 3200)
	seen := map[string]string{}
	for _, p := range []string{"", "bf16", "fp16"} {
		cfg := precisionConfig(p, 0)
		m, _ := ml.NewModel("mlp:784-64-10", 1)
		tr, err := ml.NewTrainer(m, data, cfg, cpu.MustNew(cpu.Options{Threads: 1}))
		if err != nil {
			t.Fatal(err)
		}
		res, err := tr.Run(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if other, ok := seen[res.WeightsSHA256]; ok {
			t.Errorf("precisions %q and %q give the same weights", other, p)
		}
		seen[res.WeightsSHA256] = p
		if !(res.Loss < 0.8) {
			t.Errorf("precision %q: loss %v after 50 steps, expected < 0.8", p, res.Loss)
		}
	}
}

// TestPrecisionConfig checks the config rules: the zero value is fp32 and
// encodes as before (no new JSON keys), "fp32" is normalised to "", and
// bad values are refused.
func TestPrecisionConfig(t *testing.T) {
	js, err := json.Marshal(ml.DefaultTrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"precision", "micro_batch", "loss_scale_window"} {
		if strings.Contains(string(js), k) {
			t.Errorf("the default config's JSON %s has %q: old checkpoints and digests would change", js, k)
		}
	}
	train, _ := loadMNIST(t)
	data := subset(train, 640)
	hashes := map[string]bool{}
	for _, p := range []string{"", "fp32"} {
		cfg := ml.DefaultTrainConfig()
		cfg.Steps, cfg.Epochs, cfg.Precision = 3, 0, p
		m, _ := ml.NewModel("mlp:784-16-10", 1)
		tr, err := ml.NewTrainer(m, data, cfg, cpu.MustNew(cpu.Options{Threads: 1}))
		if err != nil {
			t.Fatal(err)
		}
		if tr.Cfg.Precision != "" {
			t.Errorf("precision %q is kept as %q, expected the canonical \"\"", p, tr.Cfg.Precision)
		}
		res, _ := tr.Run(context.Background(), nil)
		hashes[res.WeightsSHA256] = true
	}
	if len(hashes) != 1 {
		t.Errorf("\"\" and \"fp32\" train differently")
	}
	for _, bad := range []func(*ml.TrainConfig){
		func(c *ml.TrainConfig) { c.Precision = "fp8" },
		func(c *ml.TrainConfig) { c.MicroBatch = -1 },
		func(c *ml.TrainConfig) { c.MicroBatch = 48 }, // does not divide 64
		func(c *ml.TrainConfig) { c.LossScaleWindow = 5 },
		func(c *ml.TrainConfig) { c.Precision, c.LossScaleWindow = "bf16", 5 },
		func(c *ml.TrainConfig) { c.Precision, c.LossScaleWindow = "fp16", -1 },
	} {
		cfg := ml.DefaultTrainConfig()
		bad(&cfg)
		if cfg.Validate() == nil {
			t.Errorf("config %+v validates", cfg)
		}
	}
	ok := ml.DefaultTrainConfig()
	ok.Precision, ok.MicroBatch, ok.LossScaleWindow = "fp16", 16, 10
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
}

type scaleRec struct {
	scale   float32
	skipped bool
	info    ml.StepInfo
}

func scaleLog(out *[]scaleRec) ml.StepHook {
	return func(s ml.StepInfo) error {
		s.Indices = nil
		*out = append(*out, scaleRec{s.LossScale, s.Skipped, s})
		return nil
	}
}

// overflowConfig is an fp16 run whose loss scale keeps growing into
// overflow: window 3, so the scale doubles every 3 finite steps until the
// fp16 activation gradients overflow.
func overflowConfig() ml.TrainConfig {
	cfg := goldenConfig()
	cfg.Steps, cfg.Epochs, cfg.Precision, cfg.LossScaleWindow = 40, 0, "fp16", 3
	return cfg
}

// TestPrecisionLossScaling runs an fp16 job that overflows: the scale
// sequence follows the rule exactly (halve and skip on overflow, double
// after 3 good steps), is the same on every run and thread count, and
// survives a checkpoint and resume bit for bit (the scaler state is part
// of the optimizer state and its hash).
func TestPrecisionLossScaling(t *testing.T) {
	train, _ := loadMNIST(t)
	data := subset(train, 640)
	cfg := overflowConfig()
	run := func(threads int) ([]scaleRec, ml.Result, ml.Hash) {
		m, _ := ml.NewModel("mlp:784-64-10", 1)
		tr, err := ml.NewTrainer(m, data, cfg, cpu.MustNew(cpu.Options{Threads: threads}))
		if err != nil {
			t.Fatal(err)
		}
		var log []scaleRec
		res, err := tr.Run(context.Background(), scaleLog(&log))
		if err != nil {
			t.Fatal(err)
		}
		return log, res, ml.OptimizerHash(tr.Opt)
	}
	a, resA, optA := run(1)
	// The rule, step by step.
	scale, good, skips, doublings := ml.LossScaleInit, 0, 0, 0
	for i, r := range a {
		if r.scale != scale {
			t.Fatalf("step %d used scale %g, the rule gives %g", i, r.scale, scale)
		}
		if r.skipped {
			skips++
			if r.info.WeightsAfter != r.info.WeightsBefore {
				t.Fatalf("skipped step %d changed the weights", i)
			}
			scale, good = max(scale/2, 1), 0
			continue
		}
		if good++; good == 3 {
			scale, good = scale*2, 0
			doublings++
		}
	}
	if skips < 3 || doublings < 3 {
		t.Fatalf("%d skipped steps and %d doublings: the run should overflow several times", skips, doublings)
	}
	t.Logf("40 fp16 steps: %d skipped, %d doublings, final scale %g", skips, doublings, scale)
	b, resB, optB := run(2)
	if resA.WeightsSHA256 != resB.WeightsSHA256 || optA != optB || len(a) != len(b) {
		t.Fatalf("two runs differ: weights %s / %s", resA.WeightsSHA256, resB.WeightsSHA256)
	}
	for i := range a {
		if a[i].scale != b[i].scale || a[i].skipped != b[i].skipped || !sameInfo(a[i].info, b[i].info) {
			t.Fatalf("step %d differs between runs", i)
		}
	}
	// Checkpoint after step 17 and resume on 2 devices' worth of threads.
	m, _ := ml.NewModel("mlp:784-64-10", 1)
	first, _ := ml.NewTrainer(m, data, cfg, cpu.MustNew(cpu.Options{Threads: 1}))
	var c []scaleRec
	for i := 0; i < 17; i++ {
		if _, err := first.Step(scaleLog(&c)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := first.SaveCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	ck, err := ml.ReadCheckpoint(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := ml.ResumeTrainer(ck, data, cpu.MustNew(cpu.Options{Threads: 2}))
	if err != nil {
		t.Fatal(err)
	}
	if s1, k1 := first.LossScale(); func() bool { s2, k2 := resumed.LossScale(); return s1 != s2 || k1 != k2 }() {
		t.Fatalf("the resumed loss scale differs")
	}
	resC, err := resumed.Run(context.Background(), scaleLog(&c))
	if err != nil {
		t.Fatal(err)
	}
	if resC.WeightsSHA256 != resA.WeightsSHA256 || ml.OptimizerHash(resumed.Opt) != optA {
		t.Fatalf("resumed run: weights %s, straight %s", resC.WeightsSHA256, resA.WeightsSHA256)
	}
	for i := range a {
		if a[i].scale != c[i].scale || a[i].skipped != c[i].skipped || !sameInfo(a[i].info, c[i].info) {
			t.Fatalf("step %d differs after the resume: %+v vs %+v", i, a[i], c[i])
		}
	}
	// A corrupt scaler state is refused.
	bad := *ck
	bad.Optim = append([]ml.NamedTensor(nil), ck.Optim...)
	last := bad.Optim[len(bad.Optim)-1]
	last.Data = append([]float32(nil), last.Data...)
	last.Data[0] = 3 // not a float32 power of two's bits
	bad.Optim[len(bad.Optim)-1] = last
	if _, err := ml.ResumeTrainer(&bad, data, cpu.MustNew(cpu.Options{Threads: 1})); err == nil {
		t.Fatal("a checkpoint with a bad loss scale resumed")
	}
}

// resumeCase is a run that is checkpointed after 13 of 25 steps and
// resumed on other devices.
type resumeCase struct {
	spec, opt, precision string
	micro                int
}

var resumeCases = []resumeCase{
	{"mlp:784-32-10,dropout=0.2,norm=layer,act=gelu", "adamw", "bf16", 0},
	{"mlp:784-32-10,dropout=0.2,norm=batch,act=tanh", "adam", "fp16", 16},
	{"cnn:1x28x28-1x4-10,bn,pool=avg,fc=16", "sgd", "fp16", 0},
	{"cnn:1x28x28-1x4-10,bn,fc=16,dropout=0.1", "sgd", "bf16", 32},
	{"cnn:1x28x28-1x4-10,bn,fc=16,dropout=0.1", "sgd", "", 16},
}

func cpus(threads ...int) []accel.Backend {
	var bs []accel.Backend
	for _, th := range threads {
		bs = append(bs, cpu.MustNew(cpu.Options{Threads: th}))
	}
	return bs
}

// TestPrecisionResume: mixed-precision and micro-batch runs resume bit for
// bit from a checkpoint, on a different number of devices and threads.
func TestPrecisionResume(t *testing.T) {
	train, _ := loadMNIST(t)
	data := subset(train, 640)
	for _, tc := range resumeCases {
		t.Run(fmt.Sprintf("%s/%s/mb%d", tc.spec, tc.precision, tc.micro), func(t *testing.T) {
			cfg := resumeConfig(tc.opt)
			cfg.Precision, cfg.MicroBatch = tc.precision, tc.micro
			m, _ := ml.NewModel(tc.spec, 7)
			straight, err := ml.NewTrainer(m, data, cfg, cpus(1)[0])
			if err != nil {
				t.Fatal(err)
			}
			var a stepLog
			resA, err := straight.Run(context.Background(), a.hook)
			if err != nil {
				t.Fatal(err)
			}
			m2, _ := ml.NewModel(tc.spec, 7)
			first, _ := ml.NewTrainer(m2, data, cfg, cpus(2)[0])
			var b stepLog
			for i := 0; i < 13; i++ {
				if _, err := first.Step(b.hook); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if err := first.SaveCheckpoint(&buf); err != nil {
				t.Fatal(err)
			}
			ck, err := ml.ReadCheckpoint(&buf, 0)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Header.Config.Precision != tc.precision || ck.Header.Config.MicroBatch != tc.micro {
				t.Fatalf("checkpoint config %+v lacks the precision or micro-batch", ck.Header.Config)
			}
			resumed, err := ml.ResumeTrainer(ck, data, cpus(1)[0])
			if err != nil {
				t.Fatal(err)
			}
			if tc.micro > 0 {
				if err := resumed.SetDevices(cpus(1, 2, 1)...); err != nil {
					t.Fatal(err)
				}
			}
			resB, err := resumed.Run(context.Background(), b.hook)
			if err != nil {
				t.Fatal(err)
			}
			if resA.WeightsSHA256 != resB.WeightsSHA256 || ml.OptimizerHash(straight.Opt) != ml.OptimizerHash(resumed.Opt) {
				t.Fatalf("final weights: straight %s, resumed %s", resA.WeightsSHA256, resB.WeightsSHA256)
			}
			if len(a.infos) != 25 || len(b.infos) != 25 {
				t.Fatalf("steps: %d and %d", len(a.infos), len(b.infos))
			}
			for i := range a.infos {
				if !sameInfo(a.infos[i], b.infos[i]) || a.infos[i].LossScale != b.infos[i].LossScale || a.infos[i].Skipped != b.infos[i].Skipped {
					t.Fatalf("step %d differs:\nstraight %+v\nresumed  %+v", i, a.infos[i], b.infos[i])
				}
			}
		})
	}
}

// TestPrecisionSampledDevices: the work proof's sampled steps give the
// same samples, loss scales and skips in mixed precision with
// micro-batches on one device and on two, and train the same weights as
// the default mode.
func TestPrecisionSampledDevices(t *testing.T) {
	train, _ := loadMNIST(t)
	data := subset(train, 640)
	cfg := overflowConfig()
	cfg.Steps, cfg.MicroBatch = 20, 16
	type rec struct {
		scale    float32
		skipped  bool
		grad, wt pouw.Hash
	}
	var logs [2][]rec
	var res [3]ml.Result
	for i := range res {
		m, _ := ml.NewModel("mlp:784-32-10,norm=batch", 3)
		tr, err := ml.NewTrainer(m, data, cfg, cpus(1)[0])
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if err := tr.SetDevices(cpus(1, 1)...); err != nil {
				t.Fatal(err)
			}
		}
		var hook ml.StepHook
		if i < 2 {
			tr.SampledSteps()
			hook = func(s ml.StepInfo) error {
				g, w, err := s.Samples(pouw.Hash{byte(s.Step), 7})
				logs[i] = append(logs[i], rec{s.LossScale, s.Skipped, g, w})
				return err
			}
		}
		if res[i], err = tr.Run(context.Background(), hook); err != nil {
			t.Fatal(err)
		}
	}
	if res[0].WeightsSHA256 != res[1].WeightsSHA256 || res[0].WeightsSHA256 != res[2].WeightsSHA256 || len(logs[0]) != 20 || len(logs[1]) != 20 {
		t.Fatalf("weights: sampled on 1 device %s, on 2 %s, default mode %s; %d and %d steps", res[0].WeightsSHA256, res[1].WeightsSHA256, res[2].WeightsSHA256, len(logs[0]), len(logs[1]))
	}
	skips := 0
	for i := range logs[0] {
		if logs[0][i] != logs[1][i] {
			t.Fatalf("step %d differs between 1 and 2 devices: %+v, %+v", i, logs[0][i], logs[1][i])
		}
		if logs[0][i].skipped {
			skips++
		}
	}
	t.Logf("%d of 20 steps skipped", skips)
}

// TestActivationBytes checks the activation accounting of the MNIST MLP and
// CNN and the saving of half-precision storage (target: at least 1.5x).
func TestActivationBytes(t *testing.T) {
	for _, c := range []struct {
		spec       string
		fp32, bf16 uint64 // bytes for a batch of 64
	}{
		// Linear inputs 784 and 256, ReLU input 256 (at the precision),
		// softmax 10 (fp32), per sample.
		{"mlp:784-256-10", 64 * ((784 + 256 + 256 + 10) * 4), 64 * ((784+256+256)*2 + 10*4)},
		// conv columns 1·9·784 and 8·9·196, ReLU inputs 8·784 and 16·196,
		// Linear input 784 (at the precision); argmax indices 8·196 and
		// 16·49 and softmax 10 (4 bytes).
		{"cnn:1x28x28-2x8-10", 64 * ((7056 + 14112 + 6272 + 3136 + 784 + 1568 + 784 + 10) * 4), 64 * ((7056+14112+6272+3136+784)*2 + (1568+784+10)*4)},
	} {
		m, err := ml.NewModel(c.spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		f, err1 := ml.ActivationBytes(m, 64, "fp32")
		b, err2 := ml.ActivationBytes(m, 64, "bf16")
		h, err3 := ml.ActivationBytes(m, 64, "fp16")
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		if f != c.fp32 || b != c.bf16 || h != b {
			t.Errorf("%s: activation bytes fp32 %d bf16 %d fp16 %d, expected %d, %d, %d", c.spec, f, b, h, c.fp32, c.bf16, c.bf16)
		}
		ratio := float64(f) / float64(b)
		t.Logf("%s batch 64: activations %d bytes in fp32, %d in bf16: %.2fx", c.spec, f, b, ratio)
		if ratio < 1.5 {
			t.Errorf("%s: bf16 saves %.2fx on activations, target 1.5x", c.spec, ratio)
		}
	}
	m, _ := ml.NewModel("mlp:4-3-2", 1)
	if _, err := ml.ActivationBytes(m, 1, "fp8"); err == nil {
		t.Error("fp8 accepted")
	}
}
