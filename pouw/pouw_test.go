package pouw

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

type vectors struct {
	WorkDigest        string `json:"work_digest"`
	TicketValue       string `json:"ticket_value"`
	VerdictCommitment string `json:"verdict_commitment"`
	Target            string `json:"target_1_in_1000"`
	Retarget          string `json:"retarget_got5_want10_factor4"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	bz, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(bz, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func vectorInputs() (StepHashes, []byte, []byte) {
	var h StepHashes
	for i := 0; i < HashLen; i++ {
		h.WeightsBefore[i], h.Batch[i], h.Gradients[i], h.WeightsAfter[i] = byte(i), byte(i+32), byte(i+64), byte(i+96)
	}
	anchor := make([]byte, HashLen)
	for i := range anchor {
		anchor[i] = 0xa0
	}
	return h, []byte("01234567890123456789"), anchor
}

func TestVectors(t *testing.T) {
	v := loadVectors(t)
	h, miner, anchor := vectorInputs()
	d, err := WorkDigest(JobID{TaskID: 7, JobIndex: 3}, miner, 42, h)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name, want string, got Hash) {
		t.Helper()
		if hex.EncodeToString(got[:]) != want {
			t.Errorf("%s = %x, want %s", name, got, want)
		}
	}
	check("work digest", v.WorkDigest, d)
	check("ticket value", v.TicketValue, TicketValue(d, anchor, 5))
	check("verdict commitment", v.VerdictCommitment, VerdictCommitment(9, miner, true, d, []byte("salt")))
	target := TargetFromProbability(1, 1000)
	check("target", v.Target, target)
	check("retarget", v.Retarget, Retarget(target, 5, 10, 4))
}

func TestDigestBindsEveryInput(t *testing.T) {
	h, miner, _ := vectorInputs()
	base, _ := WorkDigest(JobID{7, 3}, miner, 42, h)
	variants := map[string]func() (Hash, error){
		"task":      func() (Hash, error) { return WorkDigest(JobID{8, 3}, miner, 42, h) },
		"job":       func() (Hash, error) { return WorkDigest(JobID{7, 4}, miner, 42, h) },
		"miner":     func() (Hash, error) { return WorkDigest(JobID{7, 3}, []byte("01234567890123456788"), 42, h) },
		"step":      func() (Hash, error) { return WorkDigest(JobID{7, 3}, miner, 43, h) },
		"weights":   func() (Hash, error) { x := h; x.WeightsBefore[0] ^= 1; return WorkDigest(JobID{7, 3}, miner, 42, x) },
		"batch":     func() (Hash, error) { x := h; x.Batch[31] ^= 1; return WorkDigest(JobID{7, 3}, miner, 42, x) },
		"gradients": func() (Hash, error) { x := h; x.Gradients[5] ^= 1; return WorkDigest(JobID{7, 3}, miner, 42, x) },
		"after":     func() (Hash, error) { x := h; x.WeightsAfter[9] ^= 1; return WorkDigest(JobID{7, 3}, miner, 42, x) },
	}
	for name, f := range variants {
		d, err := f()
		if err != nil || d == base {
			t.Errorf("changing the %s leaves the digest unchanged (err %v)", name, err)
		}
	}
	if _, err := WorkDigest(JobID{}, nil, 0, h); err == nil {
		t.Error("empty miner accepted")
	}
	if _, err := WorkDigest(JobID{}, make([]byte, 256), 0, h); err == nil {
		t.Error("256-byte miner accepted")
	}
}

func TestTicketCount(t *testing.T) {
	for _, c := range []struct {
		omegaB, omegaM, batch, params, max, want uint64
	}{
		{OmegaScale, 0, 64, 1_000_000, 1 << 20, 64},                     // one ticket per sample
		{OmegaScale, OmegaScale / 1000, 64, 101_770, 1 << 20, 64 + 102}, // ceil(101.77)
		{OmegaScale / 2, 0, 3, 0, 1 << 20, 2},                           // ceil(1.5)
		{0, 0, 64, 1000, 1 << 20, 0},                                    // no weights, no tickets
		{OmegaScale, OmegaScale, 1 << 40, 1 << 40, 1000, 1000},          // saturates at max
		{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), 77, 77},        // overflow saturates
	} {
		if got := TicketCount(c.omegaB, c.omegaM, c.batch, c.params, c.max); got != c.want {
			t.Errorf("TicketCount(%d, %d, %d, %d, %d) = %d, want %d", c.omegaB, c.omegaM, c.batch, c.params, c.max, got, c.want)
		}
	}
}

func TestLotteryRate(t *testing.T) {
	// With a target of 1/64, about 1 in 64 tickets wins.
	h, miner, anchor := vectorInputs()
	target := TargetFromProbability(1, 64)
	wins := 0
	const n = 64_000
	d, _ := WorkDigest(JobID{1, 1}, miner, 0, h)
	for j := uint64(0); j < n; j++ {
		if Wins(TicketValue(d, anchor, j), target) {
			wins++
		}
	}
	if wins < 850 || wins > 1150 {
		t.Fatalf("%d wins of %d tickets at p=1/64 (expected ~1000)", wins, n)
	}
	if j, ok := FirstWinner(d, anchor, n, target); !ok || !Wins(TicketValue(d, anchor, j), target) {
		t.Fatal("FirstWinner returned a losing ticket")
	}
	if _, ok := FirstWinner(d, anchor, n, Hash{0, 0, 0, 1}); ok {
		t.Fatal("a near-zero target was won")
	}
}

func TestRetargetBounds(t *testing.T) {
	old := TargetFromProbability(1, 100)
	if Retarget(old, 10, 10, 4) != old {
		t.Fatal("on-rate retarget changed the target")
	}
	if got := Retarget(old, 1000, 10, 4); got != Retarget(old, 40, 10, 4) {
		t.Fatal("a flood of proofs tightened past the 4x bound")
	}
	if got, want := Retarget(old, 0, 10, 4), Retarget(old, 1, 40, 4); got != want {
		t.Fatal("no proofs should ease by the full factor")
	}
	if Retarget(maxTarget(), 0, 10, 4) != maxTarget() {
		t.Fatal("easing past 2^256-1 did not saturate")
	}
	if Retarget(Hash{31: 1}, 100, 1, 4) == (Hash{}) {
		t.Fatal("target reached zero")
	}
	if _, err := ParseTarget(make([]byte, 32)); err == nil {
		t.Fatal("zero target parsed")
	}
	if _, err := ParseTarget(make([]byte, 31)); err == nil {
		t.Fatal("short target parsed")
	}
}

func TestVerdictCommitmentBindsVerifier(t *testing.T) {
	h, miner, _ := vectorInputs()
	d, _ := WorkDigest(JobID{1, 1}, miner, 0, h)
	a := VerdictCommitment(1, []byte("verifier-a"), true, d, []byte("s"))
	if a == VerdictCommitment(1, []byte("verifier-b"), true, d, []byte("s")) {
		t.Fatal("commitment does not bind the verifier")
	}
	if a == VerdictCommitment(1, []byte("verifier-a"), false, d, []byte("s")) {
		t.Fatal("commitment does not bind the verdict")
	}
}
