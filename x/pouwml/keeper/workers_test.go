package keeper_test

import (
	"testing"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

func TestRegisterWorker(t *testing.T) {
	f := newFixture(t)
	miner := f.account("miner")
	before := f.balance(miner)
	if _, err := f.msgs.RegisterWorker(f.ctx, validWorker(miner, types.WORKER_ROLE_MINER)); err != nil {
		t.Fatal(err)
	}
	if got := before - f.balance(miner); got != 10_000_000 {
		t.Fatalf("bond moved %d, want 10000000", got)
	}
	// Top-up adds to the bond and replaces the peer info.
	top := validWorker(miner, types.WORKER_ROLE_MINER)
	top.Bond = sdk.NewCoin(denom, sdkmath.NewInt(5))
	top.Multiaddrs = []string{"/ip4/127.0.0.1/udp/4001/quic-v1"}
	if _, err := f.msgs.RegisterWorker(f.ctx, top); err != nil {
		t.Fatal(err)
	}
	if w := f.worker(miner); w.Bond.Amount.Int64() != 10_000_005 || w.Multiaddrs[0] != top.Multiaddrs[0] {
		t.Fatalf("after top-up: %+v", w)
	}
	f.checkInvariant()

	poor := f.account("poor")
	if err := f.bank.SendCoins(f.ctx, f.addr(poor), f.addr(miner), sdk.NewCoins(sdk.NewCoin(denom, sdkmath.NewInt(funding-100)))); err != nil {
		t.Fatal(err)
	}
	fresh := f.account("fresh")
	cases := []struct {
		name string
		want error
		msg  *types.MsgRegisterWorker
		mut  func(m *types.MsgRegisterWorker)
	}{
		{"bad address", types.ErrInvalidAddress, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Address = "x" }},
		{"no role", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Role = 0 }},
		{"unknown role", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Role = 9 }},
		{"bad peer id", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.PeerId = "0OIl" + testPeerID }},
		{"short peer id", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.PeerId = "12D3" }},
		{"bad multiaddr", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Multiaddrs = []string{"127.0.0.1:4001"} }},
		{"bad device", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Devices[0].Kind = "tpu" }},
		{"bond below minimum", types.ErrInsufficientBond, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Bond.Amount = sdkmath.NewInt(999_999) }},
		{"wrong denom", types.ErrInsufficientBond, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Bond.Denom = "uatom" }},
		{"cannot pay", types.ErrInsufficientBond, validWorker(poor, 1), func(m *types.MsgRegisterWorker) {}},
		{"second role", types.ErrWrongRole, validWorker(miner, types.WORKER_ROLE_VERIFIER), func(m *types.MsgRegisterWorker) {}},
	}
	for _, c := range cases {
		c.mut(c.msg)
		f.rejects(t, c.name, c.want, func() error {
			_, err := f.msgs.RegisterWorker(f.ctx, c.msg)
			return err
		})
	}
	if _, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: miner}); err != nil {
		t.Fatal(err)
	}
	f.rejects(t, "unbonding worker", types.ErrWorkerNotActive, func() error {
		_, err := f.msgs.RegisterWorker(f.ctx, validWorker(miner, types.WORKER_ROLE_MINER))
		return err
	})
}

func TestUnbond(t *testing.T) {
	w := newWorld(t)
	f := w.fixture
	v := w.verifiers[0]
	start := f.balance(v)
	res, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: v})
	if err != nil {
		t.Fatal(err)
	}
	if res.UnbondHeight != f.height()+int64(f.params().UnbondingDelayBlocks) {
		t.Fatalf("unbond height %d", res.UnbondHeight)
	}
	if size, _ := f.k.VerifierPoolSize.Get(f.ctx); size != 2 {
		t.Fatalf("verifier pool size %d after unbonding, want 2", size)
	}
	f.rejects(t, "twice", types.ErrWorkerNotActive, func() error {
		_, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: v})
		return err
	})
	f.rejects(t, "unknown", types.ErrWorkerNotFound, func() error {
		_, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: w.client})
		return err
	})
	f.rejects(t, "bad address", types.ErrInvalidAddress, func() error {
		_, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: ""})
		return err
	})
	for f.height() < res.UnbondHeight-1 {
		f.nextBlock()
	}
	if f.balance(v) != start {
		t.Fatal("bond returned before the unbonding delay")
	}
	f.nextBlock() // EndBlocker of the unbond height runs at the end of it
	f.nextBlock()
	if got := f.balance(v) - start; got != 10_000_000 {
		t.Fatalf("returned %d, want the 10000000 bond", got)
	}
	if has, _ := f.k.Workers.Has(f.ctx, f.addr(v)); has {
		t.Fatal("worker still registered after unbonding")
	}

	// A miner with a live claim cannot unbond.
	task := w.submit(1, 2, 10_000)
	if _, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: task, JobIndex: 0}); err != nil {
		t.Fatal(err)
	}
	f.rejects(t, "busy miner", types.ErrWorkerBusy, func() error {
		_, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: w.miner1})
		return err
	})
}
