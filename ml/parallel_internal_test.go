package ml

import (
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
)

// TestRNGSkip: skip(n) then a draw equals the n-th draw of a fresh stream
// (the micro-batch dropout offset).
func TestRNGSkip(t *testing.T) {
	ref := NewRNG("pouw/dropout/v1", 3, 4, 5)
	var draws []uint64
	for i := 0; i < 100; i++ {
		draws = append(draws, ref.Uint64())
	}
	for _, n := range []uint64{0, 1, 17, 99} {
		r := NewRNG("pouw/dropout/v1", 3, 4, 5)
		r.skip(n)
		if got := r.Uint64(); got != draws[n] {
			t.Fatalf("skip(%d): %x, want %x", n, got, draws[n])
		}
	}
}

// TestDropoutMicroBatchMasks: the masks of two micro-batches are the two
// halves of the whole batch's mask.
func TestDropoutMicroBatchMasks(t *testing.T) {
	be := cpu.MustNew(cpu.Options{Threads: 1})
	x := NewTensor(8, 5)
	for i := range x.Data {
		x.Data[i] = 1
	}
	d := &Dropout{P: 0.5, Index: 2}
	c := &Ctx{Backend: be, Train: true, Seed: 9, Step: 4}
	whole := append([]float32(nil), d.Forward(c, x).Data...)
	for j := 0; j < 2; j++ {
		half, _ := FromData(x.Data[j*20:(j+1)*20], 4, 5)
		d.sample0 = 4 * j
		y := d.Forward(c, half)
		for i, v := range y.Data {
			if v != whole[j*20+i] {
				t.Fatalf("micro-batch %d element %d: %v, whole batch %v", j, i, v, whole[j*20+i])
			}
		}
	}
}

// TestActivationBytesMatchesBuffers: the conv and pool rules of
// ActivationBytes count the buffers the layers really hold for backward.
func TestActivationBytesMatchesBuffers(t *testing.T) {
	m, _ := NewModel("cnn:1x12x12-2x4-10", 1)
	be := cpu.MustNew(cpu.Options{Threads: 1})
	const n = 3
	x := NewTensor(n, 1, 12, 12)
	c := &Ctx{Backend: be, Tape: &Tape{}, Train: true}
	m.Forward(c, x)
	var cols, args int
	for _, l := range m.Layers {
		switch l := l.(type) {
		case *Conv2d:
			cols += len(l.colBuf)
		case *Pool2d:
			args += len(l.arg)
		}
	}
	// conv0: 1·9·144, conv1: 4·9·36 columns per sample; argmax 4·36 + 8·9.
	if cols != n*(9*144+36*36) || args != n*(4*36+8*9) {
		t.Fatalf("columns %d, argmax %d", cols, args)
	}
}
