package keeper_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cosmos/gogoproto/proto"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Every Msg handler has a fuzz target: arbitrary bytes are decoded into the
// Msg and run against a world in mid-lifecycle (a seeded task with claimed,
// assigned and settled jobs). Whatever the input, the handler must not
// panic; when it fails it must change nothing; when it succeeds the escrow
// invariant must still hold, and so must the next block's hooks.
//
// The seed corpus (testdata/fuzz/Fuzz*) holds valid Msgs of that world and
// near misses; regenerate it with POUWML_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus.

type fuzzWorld struct {
	*world
	task uint64
	text uint64 // a DATASET_FORMAT_TEXT dataset, for transformer configurations
}

func newFuzzWorld(t testing.TB) *fuzzWorld {
	w := newWorld(t)
	id := w.submit(2, 3, 60_000)
	w.assignedAfterResult(w.miner1, id, 0, "m0", 900_000)
	w.evaluate(id, 0, "m0", 900_000)
	w.assignedAfterResult(w.miner2, id, 1, "m1", 800_000)
	if _, err := w.msgs.ClaimJob(w.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: id, JobIndex: 2}); err != nil {
		t.Fatal(err)
	}
	res, err := w.msgs.RegisterDataset(w.ctx, textDataset(w.client, "fuzz"))
	if err != nil {
		t.Fatal(err)
	}
	return &fuzzWorld{world: w, task: id, text: res.Id}
}

// archTask is a task of the new architectures on the fuzz world's datasets:
// resnet (basic and bottleneck with the imagenet stem) and vit on the MNIST
// shaped one, or a transformer (every flag) and its near misses on the
// text one.
func (fw *fuzzWorld) archTask(text bool) *types.MsgSubmitTask {
	arch := func(a string, layers ...uint32) types.ModelConfig {
		c := mlpConfig(100_000_000)
		c.Architecture, c.Layers = a, layers
		return c
	}
	if text {
		m := validTask(fw.client, fw.text, 1, 2, 10_000)
		m.Configs = []types.ModelConfig{arch("transformer", 2, 32, 4, 256, 2, 7), arch("transformer", 1, 16, 2, 256)}
		return m
	}
	m := validTask(fw.client, fw.dataset, 1, 2, 10_000)
	m.Configs = []types.ModelConfig{arch("resnet", 1, 16, 3, 3, 3), arch("resnet", 2, 8, 1, 1, 1, 1), arch("vit", 7, 2, 32, 4, 2)}
	return m
}

// seeds are valid or nearly valid Msgs of the fuzz world, one list per type.
func (fw *fuzzWorld) seeds() map[string][]proto.Message {
	w := fw.world
	j1 := w.job(fw.task, 1)
	return map[string][]proto.Message{
		"UpdateParams":    {&types.MsgUpdateParams{Authority: w.gov, Params: types.DefaultParams()}, &types.MsgUpdateParams{Authority: w.client, Params: types.DefaultParams()}},
		"RegisterDataset": {validDataset(w.client, "fuzz"), validDataset(w.client, "w"), textDataset(w.client, "seed")},
		"RegisterWorker":  {validWorker(w.account("newcomer"), types.WORKER_ROLE_STORAGE), validWorker(w.miner1, types.WORKER_ROLE_MINER)},
		"Unbond":          {&types.MsgUnbond{Address: w.verifiers[0]}, &types.MsgUnbond{Address: w.miner1}},
		"SubmitTask":      {validTask(w.client, w.dataset, 2, 2, 10_000), validTask(w.client, 9, 1, 2, 10_000), fw.archTask(false), fw.archTask(true)},
		"CancelTask":      {&types.MsgCancelTask{Client: w.client, TaskId: fw.task}},
		"ClaimJob":        {&types.MsgClaimJob{Miner: w.miner2, TaskId: fw.task, JobIndex: 3}, &types.MsgClaimJob{Miner: w.miner2, TaskId: fw.task, JobIndex: 2}},
		"SubmitResult": {&types.MsgSubmitResult{Miner: w.miner1, TaskId: fw.task, JobIndex: 2, ModelHash: modelHash("m2"), Metrics: acc(700_000)},
			&types.MsgSubmitResult{Miner: w.miner2, TaskId: fw.task, JobIndex: 2, ModelHash: modelHash("m2"), Metrics: acc(700_000)}},
		"SubmitEvaluation": {&types.MsgSubmitEvaluation{Verifier: j1.Verifiers[0], TaskId: fw.task, JobIndex: 1, ModelHash: modelHash("m1"), Metrics: acc(800_000)},
			&types.MsgSubmitEvaluation{Verifier: w.miner1, TaskId: fw.task, JobIndex: 1, ModelHash: modelHash("m1"), Metrics: acc(800_000)}},
		"CommitCheckpoint": {&types.MsgCommitCheckpoint{Miner: w.miner1, TaskId: fw.task, JobIndex: 2, Step: 0, WeightsHash: weights(0, w.miner1), OptimizerHash: optim(0, w.miner1)},
			&types.MsgCommitCheckpoint{Miner: w.miner1, TaskId: fw.task, JobIndex: 2, Step: 50, WeightsHash: weights(50, w.miner1), OptimizerHash: optim(50, w.miner1)},
			&types.MsgCommitCheckpoint{Miner: w.miner1, TaskId: fw.task, JobIndex: 2, Step: 0, WeightsHash: weights(0, w.miner1)}},
		"SubmitProof": {&types.MsgSubmitProof{Miner: w.miner1, TaskId: fw.task, JobIndex: 2, Step: 1, CommitStep: 0, WeightsBefore: weights(1, "a"),
			Batch: modelHash("b"), Gradients: modelHash("g"), WeightsAfter: weights(2, "a"), ParamCount: 101_770, TicketIndex: 3, DigestVersion: 2}},
		"SubmitVerdict": {&types.MsgSubmitVerdict{Verifier: j1.Verifiers[0], ProofId: 1, Commitment: modelHash("c")}},
		"RevealVerdict": {&types.MsgRevealVerdict{Verifier: j1.Verifiers[0], ProofId: 1, Accept: true, Digest: modelHash("d"), Salt: salt("s")}},
	}
}

func fuzzHandler[M any, PM interface {
	*M
	proto.Message
}](f *testing.F, name string, handle func(types.MsgServer, context.Context, PM) error) {
	fw := newFuzzWorld(f)
	for _, m := range fw.seeds()[name] {
		bz, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bz)
	}
	base := fw.ctx
	baseSnap := fw.snapshot()
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := PM(new(M))
		if err := proto.Unmarshal(data, msg); err != nil {
			return // not a Msg: the tx decoder would refuse it before any handler
		}
		cache, _ := base.CacheContext()
		fw.ctx, fw.t = cache, t
		defer func() { fw.ctx, fw.t = base, f }()
		err := handle(fw.msgs, cache, msg)
		if err != nil {
			if fw.snapshot() != baseSnap {
				t.Fatalf("rejected %s (%v) changed state", name, err)
			}
			return
		}
		fw.checkInvariant()
		fw.nextBlock()
	})
}

func FuzzUpdateParams(f *testing.F) {
	fuzzHandler(f, "UpdateParams", func(s types.MsgServer, c context.Context, m *types.MsgUpdateParams) error {
		_, err := s.UpdateParams(c, m)
		return err
	})
}

func FuzzRegisterDataset(f *testing.F) {
	fuzzHandler(f, "RegisterDataset", func(s types.MsgServer, c context.Context, m *types.MsgRegisterDataset) error {
		_, err := s.RegisterDataset(c, m)
		return err
	})
}

func FuzzRegisterWorker(f *testing.F) {
	fuzzHandler(f, "RegisterWorker", func(s types.MsgServer, c context.Context, m *types.MsgRegisterWorker) error {
		_, err := s.RegisterWorker(c, m)
		return err
	})
}

func FuzzUnbond(f *testing.F) {
	fuzzHandler(f, "Unbond", func(s types.MsgServer, c context.Context, m *types.MsgUnbond) error {
		_, err := s.Unbond(c, m)
		return err
	})
}

func FuzzSubmitTask(f *testing.F) {
	fuzzHandler(f, "SubmitTask", func(s types.MsgServer, c context.Context, m *types.MsgSubmitTask) error {
		_, err := s.SubmitTask(c, m)
		return err
	})
}

func FuzzCancelTask(f *testing.F) {
	fuzzHandler(f, "CancelTask", func(s types.MsgServer, c context.Context, m *types.MsgCancelTask) error {
		_, err := s.CancelTask(c, m)
		return err
	})
}

func FuzzClaimJob(f *testing.F) {
	fuzzHandler(f, "ClaimJob", func(s types.MsgServer, c context.Context, m *types.MsgClaimJob) error {
		_, err := s.ClaimJob(c, m)
		return err
	})
}

func FuzzSubmitResult(f *testing.F) {
	fuzzHandler(f, "SubmitResult", func(s types.MsgServer, c context.Context, m *types.MsgSubmitResult) error {
		_, err := s.SubmitResult(c, m)
		return err
	})
}

func FuzzSubmitEvaluation(f *testing.F) {
	fuzzHandler(f, "SubmitEvaluation", func(s types.MsgServer, c context.Context, m *types.MsgSubmitEvaluation) error {
		_, err := s.SubmitEvaluation(c, m)
		return err
	})
}

// TestWriteFuzzCorpus writes the seed corpus files (only when asked).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("POUWML_WRITE_CORPUS") == "" {
		t.Skip("set POUWML_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	fw := newFuzzWorld(t)
	for name, msgs := range fw.seeds() {
		dir := filepath.Join("testdata", "fuzz", "Fuzz"+name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			bz, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(bz)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func FuzzCommitCheckpoint(f *testing.F) {
	fuzzHandler(f, "CommitCheckpoint", func(s types.MsgServer, c context.Context, m *types.MsgCommitCheckpoint) error {
		_, err := s.CommitCheckpoint(c, m)
		return err
	})
}

func FuzzSubmitProof(f *testing.F) {
	fuzzHandler(f, "SubmitProof", func(s types.MsgServer, c context.Context, m *types.MsgSubmitProof) error {
		_, err := s.SubmitProof(c, m)
		return err
	})
}

func FuzzSubmitVerdict(f *testing.F) {
	fuzzHandler(f, "SubmitVerdict", func(s types.MsgServer, c context.Context, m *types.MsgSubmitVerdict) error {
		_, err := s.SubmitVerdict(c, m)
		return err
	})
}

func FuzzRevealVerdict(f *testing.F) {
	fuzzHandler(f, "RevealVerdict", func(s types.MsgServer, c context.Context, m *types.MsgRevealVerdict) error {
		_, err := s.RevealVerdict(c, m)
		return err
	})
}
