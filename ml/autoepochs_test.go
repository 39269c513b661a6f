package ml

import "testing"

func TestAutoEpochs(t *testing.T) {
	for _, c := range []struct{ n, batch, want int }{
		{48000, 64, 1}, // MNIST training folds: 750 steps in one epoch
		{48, 64, 500},  // a 60-row CSV in 5 folds: one step an epoch
		{400, 64, 84},  // 6 whole batches an epoch
		{1, 1, 500},    // one sample
		{0, 64, 1},     // nothing to train on
		{10, 0, 1},     // invalid batch: left to the config check
		{2, 64, 500},   // capped only beyond AutoMaxEpochs
		{32000, 64, 1}, // exactly 500 steps
		{31999, 64, 2}, // 499 whole batches an epoch
		{31936, 64, 2}, // 499 steps
	} {
		if got := AutoEpochs(c.n, c.batch); got != c.want {
			t.Errorf("AutoEpochs(%d, %d) = %d, expected %d", c.n, c.batch, got, c.want)
		}
	}
}

func TestAutoBatch(t *testing.T) {
	for n, want := range map[int]int{48000: 64, 256: 64, 255: 32, 43: 8, 4: 1, 1: 1, 0: 1} {
		if got := AutoBatch(n); got != want {
			t.Errorf("AutoBatch(%d) = %d, expected %d", n, got, want)
		}
	}
}
