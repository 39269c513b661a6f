package verifier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/worker"
)

// FuzzSavedVerdict: the verifier's state directory holds one file per
// committed verdict, read back at start (its salt is what a restarted
// verifier reveals). Whatever a file holds, decoding never panics; a
// verdict it accepts has a 32-byte digest and commitment and a salt the
// chain takes (16 to 64 bytes), re-encodes to an equal verdict, and is
// exactly what load restores from a state directory holding the file
// (nothing when refused). Committed seeds: testdata/fuzz/FuzzSavedVerdict/
// (POUWD_WRITE_FUZZ_SEEDS=1 go test -run TestWriteVerifierFuzzSeeds ./verifier).
func FuzzSavedVerdict(f *testing.F) {
	for _, s := range verifierFuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sv, err := decodeSavedVerdict(b)
		if err == nil {
			if len(sv.Digest) != 32 || len(sv.Commit) != 32 || len(sv.Salt) < 16 || len(sv.Salt) > 64 {
				t.Fatalf("accepted digest %d, commitment %d, salt %d bytes", len(sv.Digest), len(sv.Commit), len(sv.Salt))
			}
			again, err := json.Marshal(sv)
			if err != nil {
				t.Fatal(err)
			}
			sv2, err := decodeSavedVerdict(again)
			if err != nil || !reflect.DeepEqual(sv, sv2) {
				t.Fatalf("re-encoded verdict %s: %+v (%v), expected %+v", again, sv2, err, sv)
			}
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "verdict-1.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		v := &Verifier{cfg: Config{Config: worker.Config{StateDir: dir}}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			watch: map[uint64]bool{}, verdicts: map[uint64]*ballot{}, done: map[string]bool{}}
		if err := v.load(); err != nil {
			t.Fatalf("load: %v", err)
		}
		if err != nil {
			if len(v.verdicts) != 0 || len(v.watch) != 0 || len(v.done) != 0 {
				t.Fatalf("a refused file restored %d verdicts", len(v.verdicts))
			}
			return
		}
		vd := v.verdicts[sv.Proof]
		if len(v.verdicts) != 1 || vd == nil || vd.committed == sv.Pending || vd.accept != sv.Accept || !bytes.Equal(vd.digest[:], sv.Digest) ||
			!bytes.Equal(vd.commit[:], sv.Commit) || !bytes.Equal(vd.salt, sv.Salt) || !v.watch[sv.Proof] || !v.done[fmt.Sprintf("proof/%d", sv.Proof)] {
			t.Fatalf("restored %+v for %+v", v.verdicts, sv)
		}
	})
}

// verifierFuzzSeeds: a verdict as save writes it, and damaged ones.
func verifierFuzzSeeds() [][]byte {
	salt := bytes.Repeat([]byte{7}, 32)
	var digest pouw.Hash
	digest[0] = 1
	c := pouw.VerdictCommitment(9, []byte("verifier-address-20b"), true, digest, salt)
	good, _ := json.Marshal(savedVerdict{Proof: 9, Accept: true, Digest: digest[:], Salt: salt, Commit: c[:]})
	shortSalt, _ := json.Marshal(savedVerdict{Proof: 9, Digest: digest[:], Salt: salt[:3], Commit: c[:]})
	pending := bytes.Replace(good, []byte(`}`), []byte(`,"pending":true}`), 1)
	return [][]byte{good, shortSalt, pending, good[:len(good)-9], []byte(`{"proof":18446744073709551615,"digest":"","commitment":null}`),
		[]byte(`{"proof":-1}`), []byte(`null`)}
}

func TestWriteVerifierFuzzSeeds(t *testing.T) {
	if os.Getenv("POUWD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POUWD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzSavedVerdict")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range verifierFuzzSeeds() {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
