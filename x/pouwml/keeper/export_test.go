package keeper_test

import (
	"cosmossdk.io/collections"

	"github.com/pouw/pouwd/x/pouwml/keeper"
)

func keeperJobKey(task uint64, idx uint32) keeper.JobKey { return collections.Join(task, idx) }
