package cli

import (
	"bytes"
	"testing"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// The table people read: percentages, unsettled folds as "-", the best
// configuration named.
func TestWriteCVTableGolden(t *testing.T) {
	cfg := func(lr uint64) types.ModelConfig {
		return types.ModelConfig{Architecture: "mlp", Layers: []uint32{784, 32, 10}, LearningRateE9: lr, BatchSize: 64, Epochs: 1, Optimizer: types.OPTIMIZER_SGD, Precision: types.PRECISION_FP32}
	}
	res := &types.QueryCVTableResponse{
		TaskId: 1, Metric: types.METRIC_ACCURACY, Status: types.TASK_STATUS_COMPLETED, HasBest: true, BestConfig: 0,
		Rows: []types.CVRow{
			{ConfigIndex: 0, Config: cfg(100_000_000), SettledFolds: []uint32{0, 1, 2}, FoldPpm: []uint64{913000, 908000, 912500},
				Score: types.ConfigScore{ConfigIndex: 0, Complete: true, FoldsSettled: 3, MeanPpm: 911166, StdPpm: 2393}},
			{ConfigIndex: 1, Config: cfg(50_000_000), SettledFolds: []uint32{0, 2}, FoldPpm: []uint64{880000, 0, 884000},
				Score: types.ConfigScore{ConfigIndex: 1, FoldsSettled: 2, MeanPpm: 882000, StdPpm: 2000}},
		},
	}
	var b bytes.Buffer
	if err := WriteCVTable(&b, res); err != nil {
		t.Fatal(err)
	}
	want := `task 1 (completed): accuracy on each held-out fold, measured by the verifiers
  config  model                                         fold 0  fold 1  fold 2  mean ± std     folds settled
  0       mlp 784-32-10, sgd lr 0.1 batch 64, 1 epoch   91.30%  90.80%  91.25%  91.12% ± 0.24  3/3
  1       mlp 784-32-10, sgd lr 0.05 batch 64, 1 epoch  88.00%  -       88.40%  88.20% ± 0.20  2/3
best configuration: 0 (mlp 784-32-10, sgd lr 0.1 batch 64, 1 epoch): accuracy 91.12% ± 0.24
`
	if b.String() != want {
		t.Fatalf("cv table:\n%s\nexpected:\n%s", b.String(), want)
	}
}

func TestWriteTaskWorkGolden(t *testing.T) {
	rows := []WorkRow{
		{Name: "miner1", Address: "pouw1a", Role: "miner", JobsAccepted: 3, ProofsAccepted: 12},
		{Name: "miner2", Address: "pouw1b", Role: "miner", JobsAccepted: 2, JobsMisclaimed: 1, ProofsAccepted: 11, ProofsRejected: 1, ProofsOpen: 1},
		{Address: "pouw1c", Role: "verifier", Evaluations: 6, VerdictsRevealed: 16, Committed: 17},
	}
	var b bytes.Buffer
	if err := WriteTaskWork(&b, 4, rows); err != nil {
		t.Fatal(err)
	}
	want := `work on task 4
  worker  role      what it did
  miner1  miner     3 jobs accepted; work proofs: 12 accepted, 0 rejected
  miner2  miner     2 jobs accepted; 1 misclaimed; work proofs: 11 accepted, 1 rejected, 1 open
  pouw1c  verifier  6 fold evaluations; verdicts: 16 revealed of 17 committed
`
	if b.String() != want {
		t.Fatalf("task work:\n%s\nexpected:\n%s", b.String(), want)
	}
}
