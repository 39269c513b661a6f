package keeper

import (
	"context"
	"fmt"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// EscrowInvariant checks that the module account holds exactly the escrow of
// every task that is not closed plus the bond of every worker (bonded or
// unbonding). It returns a description of the mismatch when broken.
func (k Keeper) EscrowInvariant(ctx context.Context) (msg string, broken bool) {
	expected := sdk.NewCoins()
	var openTasks, workers int
	err := k.Tasks.Walk(ctx, nil, func(_ uint64, t types.Task) (bool, error) {
		if !t.Status.IsFinal() {
			expected = expected.Add(t.Escrow)
			openTasks++
		} else if t.Escrow.IsPositive() {
			return true, fmt.Errorf("closed task %d still holds escrow %s", t.Id, t.Escrow)
		}
		return false, nil
	})
	if err != nil {
		return err.Error(), true
	}
	err = k.Workers.Walk(ctx, nil, func(_ sdk.AccAddress, w types.Worker) (bool, error) {
		expected = expected.Add(w.Bond)
		workers++
		return false, nil
	})
	if err != nil {
		return err.Error(), true
	}
	held := k.bank.GetAllBalances(ctx, k.ModuleAddress())
	if !held.Equal(expected) {
		return fmt.Sprintf("pouwml module account holds %s, but %d open tasks' escrow and %d workers' bonds add up to %s", held, openTasks, workers, expected), true
	}
	return fmt.Sprintf("pouwml module account holds %s = escrow of %d open tasks + bonds of %d workers", held, openTasks, workers), false
}
