package keeper_test

import (
	"errors"
	"testing"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// rejects runs a Msg that must fail with want and proves it changed no
// state and no balance.
func (f *fixture) rejects(t *testing.T, name string, want error, run func() error) {
	t.Helper()
	before := f.snapshot()
	err := run()
	if err == nil {
		t.Fatalf("%s: accepted, expected %v", name, want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, expected %v", name, err, want)
	}
	if f.snapshot() != before {
		t.Fatalf("%s: rejected Msg changed state", name)
	}
}

func TestUpdateParams(t *testing.T) {
	f := newFixture(t)
	p := f.params()
	p.MinerFeeBps = 7000
	if _, err := f.msgs.UpdateParams(f.ctx, &types.MsgUpdateParams{Authority: f.gov, Params: p}); err != nil {
		t.Fatal(err)
	}
	if got := f.params().MinerFeeBps; got != 7000 {
		t.Fatalf("miner_fee_bps = %d, want 7000", got)
	}
	stranger := f.account("stranger")
	f.rejects(t, "non-authority", types.ErrInvalidAuthority, func() error {
		_, err := f.msgs.UpdateParams(f.ctx, &types.MsgUpdateParams{Authority: stranger, Params: p})
		return err
	})
	for name, mut := range map[string]func(*types.Params){
		"quorum 0":          func(p *types.Params) { p.QuorumBps = 0 },
		"quorum > 100%":     func(p *types.Params) { p.QuorumBps = 10_001 },
		"miner fee > 100%":  func(p *types.Params) { p.MinerFeeBps = 10_001 },
		"default > max":     func(p *types.Params) { p.DefaultVerifiersPerJob = p.MaxVerifiersPerJob + 1 },
		"zero bond":         func(p *types.Params) { p.MinWorkerBond = sdk.NewCoin(denom, sdkmath.ZeroInt()) },
		"bad denom":         func(p *types.Params) { p.MinTaskFee.Denom = "!" },
		"no per-block work": func(p *types.Params) { p.MaxDeadlinesPerBlock = 0 },
	} {
		bad := f.params()
		mut(&bad)
		f.rejects(t, name, types.ErrInvalidParams, func() error {
			_, err := f.msgs.UpdateParams(f.ctx, &types.MsgUpdateParams{Authority: f.gov, Params: bad})
			return err
		})
	}
}
