package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Datasets: registration of a canonical dataset, once per sha256.

func (s msgServer) RegisterDataset(ctx context.Context, msg *types.MsgRegisterDataset) (*types.MsgRegisterDatasetResponse, error) {
	if _, err := s.k.parseAddr("owner", msg.Owner); err != nil {
		return nil, err
	}
	if err := types.ValidateDatasetFields(msg); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidDataset, err.Error())
	}
	if id, err := s.k.DatasetBySHA.Get(ctx, msg.Sha256); err == nil {
		return nil, errorsmod.Wrapf(types.ErrDatasetExists, "sha256 %x is dataset %d", msg.Sha256, id)
	} else if !errors.Is(err, collections.ErrNotFound) {
		return nil, err
	}
	id, err := s.k.DatasetSeq.Next(ctx)
	if err != nil {
		return nil, err
	}
	d := types.Dataset{
		Id: id, Owner: msg.Owner, Name: msg.Name, Format: msg.Format, Sha256: msg.Sha256,
		SampleCount: msg.SampleCount, NumClasses: msg.NumClasses, FeatureShape: msg.FeatureShape,
		LabelHistogram: msg.LabelHistogram, Erasure: msg.Erasure, Providers: msg.Providers,
		RegisteredHeight: sdk.UnwrapSDKContext(ctx).BlockHeight(),
	}
	if err := s.k.Datasets.Set(ctx, id, d); err != nil {
		return nil, err
	}
	if err := s.k.DatasetBySHA.Set(ctx, msg.Sha256, id); err != nil {
		return nil, err
	}
	return &types.MsgRegisterDatasetResponse{Id: id}, emit(ctx, &types.EventDatasetRegistered{Id: id, Owner: msg.Owner, Sha256: msg.Sha256, SampleCount: msg.SampleCount})
}
