package p2p

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	h := bytes.Repeat([]byte{7}, 32)
	for _, m := range []interface {
		marshaler
		Unmarshal([]byte) error
	}{
		&ShardRequest{DatasetID: 3, Index: 13, Op: OpPut, Size: 5_488_002},
		&ShardRequest{},
		&CkptRequest{TaskID: 9, JobIndex: 4, WeightsHash: h, OptimizerHash: bytes.Repeat([]byte{8}, 32)},
		&ModelRequest{Hash: h},
		&Response{Status: StatusNotFound, Size: 1 << 40, Message: "nope"},
	} {
		var buf bytes.Buffer
		if err := WriteDelimited(&buf, m); err != nil {
			t.Fatal(err)
		}
		raw, err := ReadDelimited(bufio.NewReader(&buf), MaxResponseHeaderSize)
		if err != nil {
			t.Fatal(err)
		}
		got := reflect.New(reflect.TypeOf(m).Elem()).Interface().(interface{ Unmarshal([]byte) error })
		if err := got.Unmarshal(raw); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip: %+v != %+v", got, m)
		}
	}
}

func TestWireRejects(t *testing.T) {
	var r ShardRequest
	for name, b := range map[string][]byte{
		"truncated varint": {0x08, 0x80},
		"repeated field":   {0x08, 0x01, 0x08, 0x02},
		"wrong wire type":  {0x0a, 0x01, 0x00},
		"unknown op":       {0x18, 0x07},
		"index overflow":   {0x10, 0x80, 0x80, 0x80, 0x80, 0x10},
		"bad tag":          {0x00},
	} {
		if err := r.Unmarshal(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: expected ErrMalformed, got %v", name, err)
		}
	}
	if err := r.Unmarshal([]byte{0x48, 0x01}); err != nil { // unknown field 9 skipped
		t.Errorf("unknown field: %v", err)
	}
	var c CkptRequest
	if err := c.Unmarshal([]byte{0x1a, 0x01, 0x00}); !errors.Is(err, ErrMalformed) {
		t.Errorf("short hash: %v", err)
	}
	h := bytes.Repeat([]byte{7}, 32)
	for name, r := range map[string]CkptRequest{
		"no optimizer hash":    {TaskID: 1, WeightsHash: h},
		"short optimizer hash": {TaskID: 1, WeightsHash: h, OptimizerHash: h[:31]},
		"long optimizer hash":  {TaskID: 1, WeightsHash: h, OptimizerHash: append(h, 1)},
		"no weights hash":      {TaskID: 1, OptimizerHash: h},
	} {
		if err := c.Unmarshal(r.Marshal()); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := c.Unmarshal(append(CkptRequest{WeightsHash: h, OptimizerHash: h}.Marshal(), 0x22, 0x01, 0x00)); !errors.Is(err, ErrMalformed) {
		t.Errorf("repeated optimizer hash: %v", err)
	}
	if err := c.Unmarshal(append(CkptRequest{WeightsHash: h, OptimizerHash: h}.Marshal(), 0x20, 0x01)); !errors.Is(err, ErrMalformed) {
		t.Errorf("optimizer hash as a varint: %v", err)
	}
	// An announced length over the cap fails before allocation.
	big := bufio.NewReader(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}))
	if _, err := ReadDelimited(big, MaxRequestSize); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if _, err := ReadDelimited(bufio.NewReader(bytes.NewReader([]byte{0x05, 1, 2})), MaxRequestSize); !errors.Is(err, ErrMalformed) {
		t.Errorf("short body: %v", err)
	}
}
