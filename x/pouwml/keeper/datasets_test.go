package keeper_test

import (
	"testing"

	"github.com/pouw/pouwd/x/pouwml/types"
)

func TestRegisterDataset(t *testing.T) {
	f := newFixture(t)
	owner := f.account("owner")
	res, err := f.msgs.RegisterDataset(f.ctx, validDataset(owner, "a"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.k.Datasets.Get(f.ctx, res.Id)
	if err != nil || d.Owner != owner || d.SampleCount != 1000 || d.RegisteredHeight != f.height() {
		t.Fatalf("stored dataset %+v, err %v", d, err)
	}
	cases := []struct {
		name string
		want error
		mut  func(m *types.MsgRegisterDataset)
	}{
		{"bad owner", types.ErrInvalidAddress, func(m *types.MsgRegisterDataset) { m.Owner = "cosmos1xyz" }},
		{"empty name", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Name = "" }},
		{"long name", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Name = string(make([]byte, 65)) }},
		{"no format", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Format = 0 }},
		{"unknown format", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Format = 99 }},
		{"short sha", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Sha256 = m.Sha256[:31] }},
		{"no samples", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.SampleCount = 0 }},
		{"mnist with 9 classes", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) {
			m.NumClasses = 9
			m.LabelHistogram = m.LabelHistogram[:9]
		}},
		{"histogram length", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.LabelHistogram = m.LabelHistogram[:9] }},
		{"histogram sum", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.LabelHistogram[0]++ }},
		{"no shape", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.FeatureShape = nil }},
		{"zero dim", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.FeatureShape[1] = 0 }},
		{"5 dims", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.FeatureShape = []uint32{1, 1, 1, 1, 1} }},
		{"no parity", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.ParityShards = 0 }},
		{"too many shards", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.DataShards = 253 }},
		{"missing shard hash", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) {
			m.Erasure.ShardHashes = m.Erasure.ShardHashes[:13]
			m.Erasure.MerkleRoot = types.MerkleRoot(m.Erasure.ShardHashes)
		}},
		{"short shard hash", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.ShardHashes[3] = []byte{1, 2} }},
		{"wrong merkle root", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.MerkleRoot = modelHash("x") }},
		{"original too big", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.OriginalSize = 785_001 }},
		{"original too small", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.OriginalSize = 706_500 }},
		{"bad provider", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Providers = []string{"not a peer id"} }},
		{"duplicate provider", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Providers = []string{testPeerID, testPeerID} }},
		{"same sha twice", types.ErrDatasetExists, func(m *types.MsgRegisterDataset) { m.Name = "again" }},
		{"text of images", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Format = types.DATASET_FORMAT_TEXT }},
		{"text with 10 classes", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) {
			m.Format, m.FeatureShape = types.DATASET_FORMAT_TEXT, []uint32{784}
		}},
	}
	if _, err := f.msgs.RegisterDataset(f.ctx, textDataset(owner, "a")); err != nil {
		t.Fatalf("text dataset: %v", err)
	}
	for _, c := range cases {
		m := validDataset(owner, "a")
		if c.want != types.ErrDatasetExists {
			m = validDataset(owner, "fresh")
		}
		c.mut(m)
		f.rejects(t, c.name, c.want, func() error {
			_, err := f.msgs.RegisterDataset(f.ctx, m)
			return err
		})
	}
}
