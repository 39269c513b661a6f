package chainclient

import (
	"testing"

	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"

	"github.com/pouw/pouwd/x/pouwml/types"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		space string
		code  uint32
		log   string
		want  kind
	}{
		{"sdk", sdkerrors.ErrWrongSequence.ABCICode(), "", wrongSeq},
		{"sdk", sdkerrors.ErrOutOfGas.ABCICode(), "", outOfGas},
		{"sdk", sdkerrors.ErrMempoolIsFull.ABCICode(), "", busy},
		{"sdk", sdkerrors.ErrInsufficientFunds.ABCICode(), "", fatal},
		{"pouwml", 11, "", fatal}, // a module's code 11 is not out of gas
		{"", 0, "account sequence mismatch, expected 5, got 4", wrongSeq},
	} {
		if got := classify(tc.space, tc.code, tc.log); got != tc.want {
			t.Errorf("%s/%d %q: got %d, want %d", tc.space, tc.code, tc.log, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.GasAdjustment = 0.5
	if bad.Validate() == nil {
		t.Fatal("gas adjustment 0.5 accepted")
	}
	bad = DefaultConfig()
	bad.GasPrices = "x!"
	if bad.Validate() == nil {
		t.Fatal("bad gas prices accepted")
	}
}

// TestSettleGas: headroom goes to the messages that may settle a proof or a
// job in their block, once each, and to nothing else.
func TestSettleGas(t *testing.T) {
	reveal, eval := &types.MsgRevealVerdict{}, &types.MsgSubmitEvaluation{}
	for _, c := range []struct {
		msgs []sdk.Msg
		want uint64
	}{
		{nil, 0},
		{[]sdk.Msg{&types.MsgSubmitVerdict{}}, 0},
		{[]sdk.Msg{reveal}, 100},
		{[]sdk.Msg{reveal, reveal, &types.MsgSubmitVerdict{}, eval}, 300},
	} {
		if got := settleGas(c.msgs, 100); got != c.want {
			t.Errorf("settleGas(%d msgs) = %d, want %d", len(c.msgs), got, c.want)
		}
	}
}
