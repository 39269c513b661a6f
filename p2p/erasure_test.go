package p2p

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pouw/pouwd/x/pouwml/types"
)

func TestEncodeMatchesChainRules(t *testing.T) {
	c := NewCoder()
	for _, tc := range []struct{ n, k, m int }{{1, 1, 1}, {10, 10, 4}, {19, 10, 4}, {1000, 10, 4}, {54_880_016 / 997, 7, 3}, {4180, 200, 56}} {
		data := randomBytes(t, tc.n)
		enc, err := c.Encode(data, tc.k, tc.m)
		if err != nil {
			t.Fatalf("%v: %v", tc, err)
		}
		if err := types.ValidateErasure(enc.Erasure); err != nil {
			t.Fatalf("%v: chain rejects the erasure record: %v", tc, err)
		}
		sum := sha256.Sum256(data)
		out, bad, err := c.Rebuild(&enc.Erasure, enc.Shards, sum[:])
		if err != nil || len(bad) != 0 || !bytes.Equal(out, data) {
			t.Fatalf("%v: rebuild: %v bad %v", tc, err, bad)
		}
	}
	if _, err := c.Encode(nil, 10, 4); !errors.Is(err, ErrErasureShape) {
		t.Fatalf("empty data: %v", err)
	}
	if _, err := c.Encode([]byte{1}, 200, 57); !errors.Is(err, ErrErasureShape) {
		t.Fatalf("257 shards: %v", err)
	}
	if _, err := c.Encode(make([]byte, 11), 10, 4); !errors.Is(err, ErrErasureShape) {
		t.Fatalf("11 bytes in 10 shards of 2 (an empty last shard): %v", err)
	}
}

func TestRebuildToleratesMFaults(t *testing.T) {
	c := NewCoder()
	data := randomBytes(t, 1<<20+123)
	sum := sha256.Sum256(data)
	const k, m = 10, 4
	for _, tc := range []struct {
		name           string
		missing, wrong []int
		ok             bool
	}{
		{"none", nil, nil, true},
		{"m data shards missing", []int{0, 3, 5, 9}, nil, true},
		{"m corrupt", nil, []int{1, 2, 11, 13}, true},
		{"mixed m", []int{0, 12}, []int{4, 7}, true},
		{"m+1 missing", []int{0, 1, 2, 3, 4}, nil, false},
		{"m missing + 1 corrupt", []int{10, 11, 12, 13}, []int{6}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := c.Encode(data, k, m)
			if err != nil {
				t.Fatal(err)
			}
			shards := enc.Shards
			for _, i := range tc.missing {
				shards[i] = nil
			}
			for _, i := range tc.wrong {
				shards[i] = append([]byte(nil), shards[i]...)
				shards[i][0] ^= 1
			}
			out, bad, err := c.Rebuild(&enc.Erasure, shards, sum[:])
			if fmt.Sprint(bad) != fmt.Sprint(sortedOrNil(tc.wrong)) {
				t.Fatalf("bad shards %v, expected %v", bad, tc.wrong)
			}
			if !tc.ok {
				if !errors.Is(err, ErrNotEnough) || !strings.Contains(err.Error(), "missing shard indices") {
					t.Fatalf("expected ErrNotEnough naming indices, got %v", err)
				}
				return
			}
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("rebuild: %v", err)
			}
		})
	}
}

func sortedOrNil(v []int) []int {
	if len(v) == 0 {
		return nil
	}
	out := append([]int(nil), v...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestRebuildChecksDatasetHash(t *testing.T) {
	c := NewCoder()
	data := randomBytes(t, 5000)
	enc, _ := c.Encode(data, 4, 2)
	wrong := sha256.Sum256([]byte("other"))
	if _, _, err := c.Rebuild(&enc.Erasure, enc.Shards, wrong[:]); !errors.Is(err, ErrDatasetHash) {
		t.Fatalf("expected ErrDatasetHash, got %v", err)
	}
}

func TestReconstructShard(t *testing.T) {
	c := NewCoder()
	data := randomBytes(t, 10000)
	enc, _ := c.Encode(data, 10, 4)
	want := append([]byte(nil), enc.Shards[12]...)
	shards := append([][]byte(nil), enc.Shards...)
	shards[12], shards[0], shards[1] = nil, nil, nil
	got, err := c.ReconstructShard(&enc.Erasure, shards, 12)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("reconstruct shard 12: %v", err)
	}
}

func TestEncoderCache(t *testing.T) {
	c := NewCoder()
	a, _ := c.Encoder(10, 4)
	b, _ := c.Encoder(10, 4)
	d, _ := c.Encoder(6, 3)
	if a != b || a == d {
		t.Fatal("encoders are not cached per shape")
	}
}

// BenchmarkErasure10x4 encodes and rebuilds (4 data shards lost) 10 MiB
// (10+4, 1 MiB shards), single core; SetBytes is the data size.
func BenchmarkErasure10x4(b *testing.B) {
	c := NewCoder()
	data := randomBytes(b, 10<<20)
	sum := sha256.Sum256(data)
	enc, _ := c.Encode(data, 10, 4)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		enc, _ = c.Encode(data, 10, 4)
		shards := enc.Shards
		shards[0], shards[3], shards[6], shards[9] = nil, nil, nil, nil
		if _, _, err := c.Rebuild(&enc.Erasure, shards, sum[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkErasureRS10x4 is the Reed-Solomon arithmetic alone (encode plus
// reconstruct of 4 lost data shards, no hashing).
func BenchmarkErasureRS10x4(b *testing.B) {
	c := NewCoder()
	enc, _ := c.Encoder(10, 4)
	shards := make([][]byte, 14)
	for i := range shards {
		shards[i] = randomBytes(b, 1<<20)
	}
	b.SetBytes(10 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := enc.Encode(shards); err != nil {
			b.Fatal(err)
		}
		saved := [4][]byte{shards[0], shards[3], shards[6], shards[9]}
		shards[0], shards[3], shards[6], shards[9] = saved[0][:0], saved[1][:0], saved[2][:0], saved[3][:0]
		if err := enc.ReconstructData(shards); err != nil {
			b.Fatal(err)
		}
	}
}
