package statehash

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/pouw/pouwd/pouw"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the Go code")

// vectorTensors: "fc1.weight" [3 5] with bytes (7i) mod 256; "big"
// [262147] (two leaves, the second 12 bytes) with bytes (31i + 7) mod 256;
// "empty" [0].
func vectorTensors() []Tensor {
	small := make([]byte, 60)
	for i := range small {
		small[i] = byte(7 * i)
	}
	big := make([]byte, 4*262147)
	for i := range big {
		big[i] = byte(31*i + 7)
	}
	return []Tensor{{"fc1.weight", []int{3, 5}, small}, {"big", []int{262147}, big}, {"empty", []int{0}, nil}}
}

type vectors struct {
	LeafSmall   string `json:"leaf_fc1_weight"`
	TensorSmall string `json:"tensor_fc1_weight"`
	LeafBig1    string `json:"leaf_big_1"`
	// A leaf of 5121 bytes: six chunks, a BLAKE3 tree that is not a
	// power of two (the left-heavy split).
	LeafPrefix  string `json:"leaf_big_prefix_5121"`
	TensorEmpty string `json:"tensor_empty"`
	Weights     string `json:"state_weights"`
	Optim       string `json:"state_optim_first_tensor"`
}

func hx(h pouw.Hash) string { return hex.EncodeToString(h[:]) }

func TestVectors(t *testing.T) {
	ts := vectorTensors()
	got := vectors{
		LeafSmall:   hx(Leaf(ts[0].Data)),
		TensorSmall: hx(TensorHash(ts[0].Name, ts[0].Shape, 60, []pouw.Hash{Leaf(ts[0].Data)})),
		LeafBig1:    hx(Leaf(ts[1].Data[LeafBytes:])),
		LeafPrefix:  hx(Leaf(ts[1].Data[:5121])),
		TensorEmpty: hx(TensorHash("empty", []int{0}, 0, nil)),
		Weights:     hx(Sum(WeightsDomain, ts, 1)),
		Optim:       hx(Sum(OptimDomain, ts[:1], 1)),
	}
	const path = "testdata/vectors.json"
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want vectors
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("state hash vectors differ:\n got %+v\nwant %+v", got, want)
	}
}

// TestSumWorkers: the hash does not depend on how many goroutines hash
// the leaves, and binds every name, shape, byte and the domain.
func TestSumWorkers(t *testing.T) {
	ts := vectorTensors()
	ts = append(ts, Tensor{"more", []int{2, 262144}, make([]byte, 8*262144)})
	base := Sum(WeightsDomain, ts, 1)
	for _, w := range []int{0, 2, 3, 16} {
		if got := Sum(WeightsDomain, ts, w); got != base {
			t.Errorf("%d workers: %x, 1 worker: %x", w, got, base)
		}
	}
	if both := SumStates(2, State{WeightsDomain, ts}, State{OptimDomain, ts[:2]}); both[0] != base || both[1] != Sum(OptimDomain, ts[:2], 1) {
		t.Error("SumStates differs from Sum of each state")
	}
	if Sum(OptimDomain, ts, 2) == base {
		t.Error("the domain is not bound")
	}
	mutate := map[string]func([]Tensor){
		"name":       func(x []Tensor) { x[0].Name = "fc1.weighT" },
		"shape":      func(x []Tensor) { x[0].Shape = []int{5, 3} },
		"last byte":  func(x []Tensor) { x[1].Data[len(x[1].Data)-1] ^= 1 },
		"first leaf": func(x []Tensor) { x[3].Data[0] ^= 0x80 },
		"order":      func(x []Tensor) { x[0], x[2] = x[2], x[0] },
		"count":      func(x []Tensor) {},
	}
	for name, f := range mutate {
		x := make([]Tensor, len(ts))
		for i, t := range ts {
			x[i] = Tensor{t.Name, append([]int(nil), t.Shape...), append([]byte(nil), t.Data...)}
		}
		f(x)
		if name == "count" {
			x = x[:3]
		}
		if Sum(WeightsDomain, x, 2) == base {
			t.Errorf("changing the %s leaves the state hash unchanged", name)
		}
	}
	if err := Check(ts); err != nil {
		t.Fatal(err)
	}
	if err := Check([]Tensor{{"w", []int{2}, make([]byte, 7)}}); err == nil {
		t.Error("7 bytes for 2 floats passed the check")
	}
}

// BenchmarkSum reports the state hash's throughput over 256 MiB (far past
// the caches), on one goroutine and on every core, and BenchmarkMemcpy the
// machine's memory bandwidth on one core over the same bytes (copied bytes
// per second, the buffers touched beforehand):
// scripts/bench/pouw_overhead.sh prints them side by side.
func BenchmarkSum(b *testing.B) {
	ts := []Tensor{{"w", []int{64 << 20}, benchBytes()}}
	for _, w := range []int{1, 0} {
		name := "cores=1"
		if w == 0 {
			name = "cores=all"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(ts[0].Data)))
			for i := 0; i < b.N; i++ {
				Sum(WeightsDomain, ts, w)
			}
		})
	}
}

func BenchmarkMemcpy(b *testing.B) {
	src, dst := benchBytes(), benchBytes()
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(dst, src)
	}
}

func benchBytes() []byte {
	buf := make([]byte, 256<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	return buf
}
