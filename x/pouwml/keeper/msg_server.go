package keeper

import (
	"context"

	errorsmod "cosmossdk.io/errors"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Every handler validates everything first and writes only after the last
// check (coins move last among the checks that can fail), so a rejected Msg
// changes nothing even outside a transaction's cache.

type msgServer struct{ k Keeper }

var _ types.MsgServer = msgServer{}

// NewMsgServerImpl returns the Msg service of the module.
func NewMsgServerImpl(k Keeper) types.MsgServer { return msgServer{k: k} }

func (s msgServer) UpdateParams(ctx context.Context, msg *types.MsgUpdateParams) (*types.MsgUpdateParamsResponse, error) {
	if msg.Authority != s.k.authority {
		return nil, errorsmod.Wrapf(types.ErrInvalidAuthority, "expected %s, got %q", s.k.authority, msg.Authority)
	}
	if err := msg.Params.Validate(); err != nil {
		return nil, err
	}
	if err := s.k.Params.Set(ctx, msg.Params); err != nil {
		return nil, err
	}
	return &types.MsgUpdateParamsResponse{}, emit(ctx, &types.EventParamsUpdated{Authority: msg.Authority})
}
