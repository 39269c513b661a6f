package pouw

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"math/big"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors_v2.json from the Go code")

// v2Vectors are the version 2 test vectors; scripts/pouw_vectors.py
// recomputes every field from the documented layout with its own code.
type v2Vectors struct {
	Link            string   `json:"commit_link"`
	WeightPositions []uint64 `json:"weight_positions_n101770"`
	GradPositions   []uint64 `json:"grad_positions_n1000003"`
	GradSample      string   `json:"grad_sample"`
	WeightSample    string   `json:"weight_sample"`
	Digest          string   `json:"step_digest"`
	TicketValue     string   `json:"ticket_value"`
	TicketIndex     uint64   `json:"ticket_index_target_1_in_1000"`
	Wins166         bool     `json:"wins_with_166_tickets"`
}

// v2Inputs: link from W = 00..1f, O = 20..3f; positions from the link;
// gradient values k/2 (k < 64) at loss 1.0; weight values (i % 251) bytes;
// batch hash 40..5f; job 7/3, the vectors' miner, step 42; anchor a0...
func v2Inputs() (link Hash, parts StepParts, miner, anchor []byte, err error) {
	var w, o Hash
	for i := range w {
		w[i], o[i] = byte(i), byte(i+32)
	}
	link = CommitLink(w, o)
	grads := make([]byte, 4*SampleCount)
	for k := 0; k < SampleCount; k++ {
		binary.LittleEndian.PutUint32(grads[4*k:], math.Float32bits(float32(k)/2))
	}
	weights := make([]byte, 4*SampleCount)
	for i := range weights {
		weights[i] = byte(i % 251)
	}
	parts.Prev = link
	for i := range parts.Batch {
		parts.Batch[i] = byte(i + 64)
	}
	if parts.GradSample, err = GradSample(math.Float32bits(1), 1000003, grads); err != nil {
		return
	}
	if parts.WeightSample, err = WeightSample(101770, weights); err != nil {
		return
	}
	_, miner, anchor = vectorInputs()
	return
}

func TestVectorsV2(t *testing.T) {
	link, parts, miner, anchor, err := v2Inputs()
	if err != nil {
		t.Fatal(err)
	}
	d, err := StepDigest(JobID{TaskID: 7, JobIndex: 3}, miner, 42, parts)
	if err != nil {
		t.Fatal(err)
	}
	target := TargetFromProbability(1, 1000)
	value, _, _ := NewLottery(166, target).Draw(d, anchor)
	got := v2Vectors{
		Link: hex.EncodeToString(link[:]), GradSample: hex.EncodeToString(parts.GradSample[:]),
		WeightSample: hex.EncodeToString(parts.WeightSample[:]), Digest: hex.EncodeToString(d[:]),
		TicketValue: hex.EncodeToString(value[:]), TicketIndex: TicketIndex(value, target),
		WeightPositions: make([]uint64, SampleCount), GradPositions: make([]uint64, SampleCount),
	}
	_, _, got.Wins166 = NewLottery(166, target).Draw(d, anchor)
	SamplePositions(link, SampleWeights, 101770, got.WeightPositions)
	SamplePositions(link, SampleGrads, 1000003, got.GradPositions)
	const path = "testdata/vectors_v2.json"
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
	var want v2Vectors
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("version 2 vectors differ:\n got %s\nwant %s", gb, wb)
	}
}

func TestStepDigestBindsEveryInput(t *testing.T) {
	_, parts, miner, _, err := v2Inputs()
	if err != nil {
		t.Fatal(err)
	}
	id := JobID{7, 3}
	base, _ := StepDigest(id, miner, 42, parts)
	flip := func(f func(p *StepParts)) StepParts { p := parts; f(&p); return p }
	for name, c := range map[string]struct {
		id    JobID
		miner []byte
		step  uint64
		parts StepParts
	}{
		"task":          {JobID{8, 3}, miner, 42, parts},
		"job":           {JobID{7, 4}, miner, 42, parts},
		"miner":         {id, []byte("01234567890123456788"), 42, parts},
		"step":          {id, miner, 43, parts},
		"prev":          {id, miner, 42, flip(func(p *StepParts) { p.Prev[0] ^= 1 })},
		"batch":         {id, miner, 42, flip(func(p *StepParts) { p.Batch[31] ^= 1 })},
		"grad sample":   {id, miner, 42, flip(func(p *StepParts) { p.GradSample[5] ^= 1 })},
		"weight sample": {id, miner, 42, flip(func(p *StepParts) { p.WeightSample[9] ^= 1 })},
	} {
		d, err := StepDigest(c.id, c.miner, c.step, c.parts)
		if err != nil || d == base {
			t.Errorf("changing the %s leaves the digest unchanged (err %v)", name, err)
		}
	}
	if _, err := StepDigest(id, nil, 0, parts); err == nil {
		t.Error("empty miner accepted")
	}
	if _, err := StepDigest(id, make([]byte, 256), 0, parts); err == nil {
		t.Error("256-byte miner accepted")
	}
}

func TestSamples(t *testing.T) {
	vals := make([]byte, 4*SampleCount)
	a, err := GradSample(1, 10, vals)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := GradSample(2, 10, vals); a == b {
		t.Error("the gradient sample does not bind the loss")
	}
	if b, _ := GradSample(1, 11, vals); a == b {
		t.Error("the gradient sample does not bind the value count")
	}
	vals[100] = 1
	if b, _ := GradSample(1, 10, vals); a == b {
		t.Error("the gradient sample does not bind the values")
	}
	if w, _ := WeightSample(10, vals); w == a {
		t.Error("weight and gradient samples share a domain")
	}
	if _, err := GradSample(1, 10, vals[:4]); err == nil {
		t.Error("a short sample was accepted")
	}
	if _, err := WeightSample(0, vals); err == nil {
		t.Error("values over an empty tensor set were accepted")
	}
	if _, err := WeightSample(0, nil); err != nil {
		t.Errorf("the empty sample of an empty state: %v", err)
	}
}

func TestSamplePositions(t *testing.T) {
	var prev Hash
	prev[3], prev[12] = 7, 9
	const n = 1000
	a, b := make([]uint64, 4096), make([]uint64, 4096)
	SamplePositions(prev, SampleWeights, n, a)
	SamplePositions(prev, SampleGrads, n, b)
	counts := make([]int, 10)
	same := 0
	for k := range a {
		if a[k] >= n || b[k] >= n {
			t.Fatalf("position %d/%d out of [0, %d)", a[k], b[k], n)
		}
		counts[a[k]*10/n]++
		if a[k] == b[k] {
			same++
		}
	}
	for i, c := range counts {
		if c < 300 || c > 520 { // 409.6 expected per tenth
			t.Errorf("tenth %d of the range drew %d of 4096 positions", i, c)
		}
	}
	if same > 40 {
		t.Errorf("the two streams agree on %d of 4096 positions", same)
	}
	prev[0] ^= 1
	c := make([]uint64, 4096)
	SamplePositions(prev, SampleWeights, n, c)
	if equalU64(a, c) {
		t.Error("the weight positions do not depend on prev")
	}
	SamplePositions(prev, SampleWeights, 0, c[:1])
	if c[0] != 0 {
		t.Errorf("a position over n = 0 is %d", c[0])
	}
}

func equalU64(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLotteryV2 checks the one-draw lottery against its definition (v <
// tickets*target, index floor(v/target)) over many digests and ticket
// counts, including a limit past 2^256, and its win rate.
func TestLotteryV2(t *testing.T) {
	_, _, anchor := vectorInputs()
	two256 := new(big.Int).Lsh(big.NewInt(1), 256)
	for _, c := range []struct{ num, den, tickets uint64 }{
		{1, 1000, 166}, {1, 64, 1}, {1, 3, 2}, {1, 2, 5}, {1, 1 << 40, 1 << 20}, {1, 10, 0},
	} {
		target := TargetFromProbability(c.num, c.den)
		lot := NewLottery(c.tickets, target)
		limit := new(big.Int).Mul(new(big.Int).SetBytes(target[:]), new(big.Int).SetUint64(c.tickets))
		wins := 0
		const n = 20000
		for i := 0; i < n; i++ {
			var d Hash
			binary.BigEndian.PutUint64(d[:], uint64(i))
			v, j, ok := lot.Draw(d, anchor)
			if v != TicketValueV2(d, anchor) {
				t.Fatal("Draw's value is not TicketValueV2")
			}
			vi := new(big.Int).SetBytes(v[:])
			want := vi.Cmp(limit) < 0
			if ok != want {
				t.Fatalf("%d tickets at %d/%d: digest %d wins=%v, want %v", c.tickets, c.num, c.den, i, ok, want)
			}
			if ok {
				wins++
				if j >= c.tickets || j != new(big.Int).Quo(vi, new(big.Int).SetBytes(target[:])).Uint64() {
					t.Fatalf("winning ticket %d of %d is not floor(v/target)", j, c.tickets)
				}
			}
		}
		p := new(big.Rat).SetFrac(limit, two256)
		if p.Cmp(big.NewRat(1, 1)) > 0 {
			p = big.NewRat(1, 1)
		}
		pf, _ := p.Float64()
		if exp := pf * n; float64(wins) < exp-5*math.Sqrt(exp+1)-1 || float64(wins) > exp+5*math.Sqrt(exp+1)+1 {
			t.Errorf("%d tickets at %d/%d: %d wins of %d, expected about %.0f", c.tickets, c.num, c.den, wins, n, exp)
		}
	}
	if TicketIndex(maxTarget(), Hash{31: 1}) != ^uint64(0) {
		t.Error("a huge ticket index does not saturate")
	}
}

func TestCommitLink(t *testing.T) {
	var w, o Hash
	a := CommitLink(w, o)
	o[0] = 1
	if CommitLink(w, o) == a {
		t.Error("the link does not bind the optimizer state")
	}
	if CommitLink(o, w) == CommitLink(w, o) {
		t.Error("the link does not order weights and optimizer")
	}
}

func BenchmarkStepDigest(b *testing.B) {
	_, parts, miner, _, _ := v2Inputs()
	for i := 0; i < b.N; i++ {
		parts.Prev, _ = StepDigest(JobID{7, 3}, miner, uint64(i), parts)
	}
}

func BenchmarkDraw(b *testing.B) {
	_, parts, _, anchor, _ := v2Inputs()
	lot := NewLottery(166, TargetFromProbability(1, 1000))
	for i := 0; i < b.N; i++ {
		parts.Prev[0] = byte(i)
		lot.Draw(parts.Prev, anchor)
	}
}
