package keeper_test

import (
	"cosmossdk.io/collections"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/keeper"
)

func keeperJobKey(task uint64, idx uint32) keeper.JobKey { return collections.Join(task, idx) }

func collectionsJoin4(task uint64, idx uint32, miner sdk.AccAddress, step uint64) collections.Quad[uint64, uint32, sdk.AccAddress, uint64] {
	return collections.Join4(task, idx, miner, step)
}

func collectionsJoin3(task uint64, idx uint32, miner sdk.AccAddress) collections.Triple[uint64, uint32, sdk.AccAddress] {
	return collections.Join3(task, idx, miner)
}
