package types

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []uint64
		want uint64
	}{
		{nil, 0}, {[]uint64{5}, 5}, {[]uint64{3, 1, 2}, 2}, {[]uint64{1, 4}, 2}, {[]uint64{1, 2}, 1},
		{[]uint64{999_999, 1_000_000}, 999_999}, {[]uint64{910_000, 950_000, 900_000}, 910_000},
	} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %d, want %d", c.in, got, c.want)
		}
	}
	in := []uint64{3, 1, 2}
	Median(in)
	if in[0] != 3 {
		t.Fatal("Median sorted its input in place")
	}
}

func TestQuorum(t *testing.T) {
	for _, c := range []struct {
		n    int
		bps  uint32
		want int
	}{{3, 6666, 2}, {6, 6666, 4}, {9, 6666, 6}, {1, 6666, 1}, {3, 10_000, 3}, {3, 1, 1}, {0, 6666, 0}, {4, 5000, 2}} {
		if got := Quorum(c.n, c.bps); got != c.want {
			t.Errorf("Quorum(%d, %d) = %d, want %d", c.n, c.bps, got, c.want)
		}
	}
}

// MeanStd must equal floor(mean) and floor(sqrt(population variance)),
// checked against float64 where float64 is exact enough to decide.
func TestMeanStdAgainstFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 2000; trial++ {
		n := 1 + rng.IntN(20)
		vals := make([]uint64, n)
		var sum float64
		for i := range vals {
			vals[i] = uint64(rng.IntN(1_000_001))
			sum += float64(vals[i])
		}
		mean, std := MeanStd(vals)
		fm := sum / float64(n)
		var v float64
		for _, x := range vals {
			v += (float64(x) - fm) * (float64(x) - fm)
		}
		fs := math.Sqrt(v / float64(n))
		if mean != uint64(math.Floor(fm)) {
			t.Fatalf("mean of %v = %d, float %f", vals, mean, fm)
		}
		if d := math.Abs(float64(std) - math.Floor(fs)); d > 1 || float64(std) > fs+1e-6 {
			t.Fatalf("std of %v = %d, float %f", vals, std, fs)
		}
	}
	if m, s := MeanStd([]uint64{900_000, 910_000}); m != 905_000 || s != 5_000 {
		t.Fatalf("got %d %d", m, s)
	}
	if m, s := MeanStd([]uint64{0, 1_000_000}); m != 500_000 || s != 500_000 {
		t.Fatalf("extremes: %d %d", m, s)
	}
}

func TestMerkleRootVectors(t *testing.T) {
	leaf := func(i int) []byte { s := sha256.Sum256([]byte{byte(i)}); return s[:] }
	// Pinned vectors: the storage layer and the chain must agree on these.
	one := MerkleRoot([][]byte{leaf(0)})
	two := MerkleRoot([][]byte{leaf(0), leaf(1)})
	three := MerkleRoot([][]byte{leaf(0), leaf(1), leaf(2)})
	h := func(b ...[]byte) []byte {
		d := sha256.New()
		for _, x := range b {
			d.Write(x)
		}
		return d.Sum(nil)
	}
	l0, l1, l2 := h([]byte{0}, leaf(0)), h([]byte{0}, leaf(1)), h([]byte{0}, leaf(2))
	if hex.EncodeToString(one) != hex.EncodeToString(l0) {
		t.Fatal("single leaf root")
	}
	if hex.EncodeToString(two) != hex.EncodeToString(h([]byte{1}, l0, l1)) {
		t.Fatal("two leaf root")
	}
	if hex.EncodeToString(three) != hex.EncodeToString(h([]byte{1}, h([]byte{1}, l0, l1), l2)) {
		t.Fatal("odd leaf carried up")
	}
	if string(MerkleRoot([][]byte{leaf(1), leaf(0)})) == string(two) {
		t.Fatal("root ignores order")
	}
}

func TestValidateErasureBounds(t *testing.T) {
	hashes := make([][]byte, 14)
	for i := range hashes {
		s := sha256.Sum256([]byte{byte(i)})
		hashes[i] = s[:]
	}
	e := ErasureCode{DataShards: 10, ParityShards: 4, ShardSize: 100, OriginalSize: 1000, ShardHashes: hashes, MerkleRoot: MerkleRoot(hashes)}
	if err := ValidateErasure(e); err != nil {
		t.Fatal(err)
	}
	for _, orig := range []uint64{901, 1000} {
		e.OriginalSize = orig
		if err := ValidateErasure(e); err != nil {
			t.Fatalf("original %d: %v", orig, err)
		}
	}
	for _, orig := range []uint64{0, 900, 1001} {
		e.OriginalSize = orig
		if err := ValidateErasure(e); err == nil {
			t.Fatalf("original %d accepted", orig)
		}
	}
}
