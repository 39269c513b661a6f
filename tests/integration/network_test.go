package integration

import (
	"context"
	"errors"
	"testing"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/pouw/pouwd/app"
	pouwmltypes "github.com/pouw/pouwd/x/pouwml/types"
)

// TestNetworkSmoke: the 4-validator network makes blocks, a bank send moves
// exactly the amount sent (zero fees), a failing tx is committed with its
// error code and changes no balance, and x/pouwml is wired (a worker can
// register and be queried).
func TestNetworkSmoke(t *testing.T) {
	n := New(t, Options{})
	if got := len(n.Validators); got != 4 {
		t.Fatalf("validators: got %d, want 4", got)
	}
	h := n.WaitBlocks(2)
	if h < 3 {
		t.Fatalf("height %d after waiting, want >= 3", h)
	}

	client, miner := n.Address("client"), n.Address("miner1")
	clientBefore := n.Balance(client, app.BondDenom)
	minerBefore := n.Balance(miner, app.BondDenom)

	amount := sdk.NewCoins(sdk.NewInt64Coin(app.BondDenom, 12345))
	res := n.MustBroadcast("client", banktypes.NewMsgSend(client, miner, amount))
	if res.Height <= 0 {
		t.Fatalf("tx height %d", res.Height)
	}
	if got, want := n.Balance(miner, app.BondDenom), minerBefore.AddRaw(12345); !got.Equal(want) {
		t.Fatalf("miner1 balance %s, want %s", got, want)
	}
	if got, want := n.Balance(client, app.BondDenom), clientBefore.SubRaw(12345); !got.Equal(want) {
		t.Fatalf("client balance %s, want %s", got, want)
	}

	// Two msgs in one tx, one of which cannot be paid: the tx fails in the
	// block with the bank error code and neither send happens.
	clientBefore = n.Balance(client, app.BondDenom)
	tooMuch := sdk.NewCoins(sdk.NewCoin(app.BondDenom, clientBefore.Add(sdkmath.OneInt())))
	res, err := n.Broadcast("client", []sdk.Msg{
		banktypes.NewMsgSend(client, miner, amount),
		banktypes.NewMsgSend(client, miner, tooMuch),
	}, BroadcastOptions{Gas: 300_000})
	if err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	if res.Code == 0 || res.Codespace != "sdk" {
		t.Fatalf("over-spending tx: code %d codespace %q, want an sdk error", res.Code, res.Codespace)
	}
	if got := n.Balance(client, app.BondDenom); !got.Equal(clientBefore) {
		t.Fatalf("client balance changed by a failed tx: %s -> %s", clientBefore, got)
	}

	// A tx from an unknown account is refused before broadcasting.
	if _, err := n.Broadcast("nobody", []sdk.Msg{banktypes.NewMsgSend(client, miner, amount)}); err == nil {
		t.Fatal("broadcast from an unknown account succeeded")
	}
	// A tx rejected in CheckTx (wrong signer for the msg) reports ErrCheckTx.
	_, err = n.Broadcast("miner1", []sdk.Msg{banktypes.NewMsgSend(client, miner, amount)}, BroadcastOptions{Gas: 200_000})
	if !errors.Is(err, ErrCheckTx) {
		t.Fatalf("msg signed by the wrong key: err %v, want ErrCheckTx", err)
	}

	// x/pouwml is wired: register a worker and query it back.
	q := pouwmltypes.NewQueryClient(n.ClientCtx())
	params, err := q.Params(context.Background(), &pouwmltypes.QueryParamsRequest{})
	if err != nil {
		t.Fatalf("pouwml params: %v", err)
	}
	n.MustBroadcast("miner2", &pouwmltypes.MsgRegisterWorker{
		Address: n.Address("miner2").String(),
		Role:    pouwmltypes.WORKER_ROLE_MINER,
		Bond:    params.Params.MinWorkerBond,
		PeerId:  "12D3KooWGzBkfUinrXDMY5ScDbLyBnCqx5Wv8HCdRHN2yEU3nVrX",
	})
	w, err := q.Worker(context.Background(), &pouwmltypes.QueryWorkerRequest{Address: n.Address("miner2").String()})
	if err != nil {
		t.Fatalf("worker query: %v", err)
	}
	if w.Worker.Role != pouwmltypes.WORKER_ROLE_MINER || !w.Worker.Bond.Equal(params.Params.MinWorkerBond) {
		t.Fatalf("worker %+v, want a miner bonded with %s", w.Worker, params.Params.MinWorkerBond)
	}
}
