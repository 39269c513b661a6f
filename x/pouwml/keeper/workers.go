package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Workers: registration and bonds, unbonding, and the penalties (slash,
// jail) every other domain applies to them.

func (s msgServer) RegisterWorker(ctx context.Context, msg *types.MsgRegisterWorker) (*types.MsgRegisterWorkerResponse, error) {
	addr, err := s.k.parseAddr("address", msg.Address)
	if err != nil {
		return nil, err
	}
	if _, ok := types.WorkerRole_name[int32(msg.Role)]; !ok || msg.Role == types.WORKER_ROLE_UNSPECIFIED {
		return nil, errorsmod.Wrapf(types.ErrInvalidWorker, "role must be miner, verifier or storage, got %d", msg.Role)
	}
	if err := types.ValidatePeerID("peer_id", msg.PeerId); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidWorker, err.Error())
	}
	if err := types.ValidateMultiaddrs(msg.Multiaddrs); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidWorker, err.Error())
	}
	if err := types.ValidateDevices(msg.Devices); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidWorker, err.Error())
	}
	params, err := s.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if err := msg.Bond.Validate(); err != nil || msg.Bond.Denom != params.MinWorkerBond.Denom {
		return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond must be a valid amount of %s, got %s", params.MinWorkerBond.Denom, msg.Bond)
	}
	existing, err := s.k.Workers.Get(ctx, addr)
	found := err == nil
	if err != nil && !errors.Is(err, collections.ErrNotFound) {
		return nil, err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	var w types.Worker
	if found {
		if existing.Role != msg.Role {
			return nil, errorsmod.Wrapf(types.ErrWrongRole, "%s is registered as %s, not %s (one role per account)", msg.Address, existing.Role, msg.Role)
		}
		if existing.Status != types.WORKER_STATUS_BONDED {
			return nil, errorsmod.Wrapf(types.ErrWorkerNotActive, "%s is unbonding until height %d", msg.Address, existing.UnbondHeight)
		}
		if !msg.Bond.IsPositive() && !existing.Bond.IsGTE(params.MinWorkerBond) {
			return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond %s is below the minimum %s; add at least the difference", existing.Bond, params.MinWorkerBond)
		}
		if existing.Bond.Add(msg.Bond).IsLT(params.MinWorkerBond) {
			return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond %s + %s is below the minimum %s", existing.Bond, msg.Bond, params.MinWorkerBond)
		}
		w = existing
		w.Bond = existing.Bond.Add(msg.Bond)
	} else {
		if msg.Bond.IsLT(params.MinWorkerBond) {
			return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond %s is below the minimum %s", msg.Bond, params.MinWorkerBond)
		}
		w = types.Worker{Address: msg.Address, Role: msg.Role, Status: types.WORKER_STATUS_BONDED, Bond: msg.Bond, RegisteredHeight: height}
	}
	w.PeerId, w.Multiaddrs, w.Devices = msg.PeerId, msg.Multiaddrs, msg.Devices
	if msg.Bond.IsPositive() {
		if err := s.k.bank.SendCoinsFromAccountToModule(ctx, addr, types.ModuleName, sdk.NewCoins(msg.Bond)); err != nil {
			return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "cannot bond %s from %s: %v", msg.Bond, msg.Address, err)
		}
	}
	if err := s.k.Workers.Set(ctx, addr, w); err != nil {
		return nil, err
	}
	if !found && w.Role == types.WORKER_ROLE_VERIFIER {
		if err := s.k.poolAdd(ctx, addr); err != nil {
			return nil, err
		}
	}
	return &types.MsgRegisterWorkerResponse{}, emit(ctx, &types.EventWorkerRegistered{Address: msg.Address, Role: msg.Role, Bond: w.Bond, TopUp: found})
}

func (s msgServer) Unbond(ctx context.Context, msg *types.MsgUnbond) (*types.MsgUnbondResponse, error) {
	addr, err := s.k.parseAddr("address", msg.Address)
	if err != nil {
		return nil, err
	}
	w, err := s.k.getWorker(ctx, addr, msg.Address)
	if err != nil {
		return nil, err
	}
	if w.Status != types.WORKER_STATUS_BONDED {
		return nil, errorsmod.Wrapf(types.ErrWorkerNotActive, "%s is already unbonding until height %d", msg.Address, w.UnbondHeight)
	}
	if w.OpenItems > 0 {
		return nil, errorsmod.Wrapf(types.ErrWorkerBusy, "%s holds %d open claims or assignments; finish them first", msg.Address, w.OpenItems)
	}
	params, err := s.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	w.Status = types.WORKER_STATUS_UNBONDING
	w.UnbondHeight = height + int64(params.UnbondingDelayBlocks)
	if err := s.k.Workers.Set(ctx, addr, w); err != nil {
		return nil, err
	}
	if err := s.k.UnbondingQueue.Set(ctx, collections.Join(w.UnbondHeight, addr)); err != nil {
		return nil, err
	}
	if w.Role == types.WORKER_ROLE_VERIFIER {
		if err := s.k.poolRemove(ctx, addr); err != nil {
			return nil, err
		}
	}
	return &types.MsgUnbondResponse{UnbondHeight: w.UnbondHeight}, emit(ctx, &types.EventWorkerUnbonding{Address: msg.Address, UnbondHeight: w.UnbondHeight})
}

func (k Keeper) getWorker(ctx context.Context, addr sdk.AccAddress, name string) (types.Worker, error) {
	w, err := k.Workers.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return w, errorsmod.Wrapf(types.ErrWorkerNotFound, "%s is not a registered worker", name)
	}
	return w, err
}

// activeWorker returns the worker if it may take new work: registered in
// the role, bonded (not unbonding) at or above the minimum, not jailed.
func (k Keeper) activeWorker(ctx context.Context, addr sdk.AccAddress, name string, role types.WorkerRole, p types.Params, height int64) (types.Worker, error) {
	w, err := k.getWorker(ctx, addr, name)
	if err != nil {
		return w, err
	}
	switch {
	case w.Role != role:
		return w, errorsmod.Wrapf(types.ErrWrongRole, "%s is a %s, expected %s", name, w.Role, role)
	case w.Status != types.WORKER_STATUS_BONDED:
		return w, errorsmod.Wrapf(types.ErrWorkerNotActive, "%s is unbonding", name)
	case height < w.JailedUntil:
		return w, errorsmod.Wrapf(types.ErrWorkerNotActive, "%s is jailed until height %d", name, w.JailedUntil)
	case w.Bond.Denom != p.MinWorkerBond.Denom || w.Bond.IsLT(p.MinWorkerBond):
		return w, errorsmod.Wrapf(types.ErrInsufficientBond, "%s bonds %s, below the minimum %s", name, w.Bond, p.MinWorkerBond)
	}
	return w, nil
}

// slash burns bps/10000 of a worker's bond and saves the worker.
func (k Keeper) slash(ctx context.Context, addr sdk.AccAddress, w *types.Worker, bps uint32, reason string) error {
	amt := w.Bond.Amount.MulRaw(int64(bps)).QuoRaw(types.MaxBps)
	if amt.IsPositive() {
		coin := sdk.NewCoin(w.Bond.Denom, amt)
		if err := k.bank.BurnCoins(ctx, types.ModuleName, sdk.NewCoins(coin)); err != nil {
			return err
		}
		w.Bond = w.Bond.Sub(coin)
		if err := emit(ctx, &types.EventWorkerSlashed{Address: w.Address, Amount: coin, Reason: reason}); err != nil {
			return err
		}
	}
	return k.Workers.Set(ctx, addr, *w)
}

// jail keeps a worker from new work for the given number of blocks
// (jail_blocks; the decision that jails says how many).
func (k Keeper) jail(ctx context.Context, addr sdk.AccAddress, w *types.Worker, blocks uint64, reason string) error {
	w.JailedUntil = sdk.UnwrapSDKContext(ctx).BlockHeight() + int64(blocks)
	if err := k.Workers.Set(ctx, addr, *w); err != nil {
		return err
	}
	return emit(ctx, &types.EventWorkerJailed{Address: w.Address, JailedUntil: w.JailedUntil, Reason: reason})
}

// completeUnbonding returns a matured bond and removes the worker.
func (k Keeper) completeUnbonding(ctx context.Context, addr sdk.AccAddress, height int64) error {
	w, err := k.Workers.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if w.Status != types.WORKER_STATUS_UNBONDING || w.UnbondHeight != height {
		return nil
	}
	if w.Bond.IsPositive() {
		if err := k.bank.SendCoinsFromModuleToAccount(ctx, types.ModuleName, addr, sdk.NewCoins(w.Bond)); err != nil {
			return err
		}
	}
	if err := k.Workers.Remove(ctx, addr); err != nil {
		return err
	}
	returned := w.Bond
	if returned.Denom == "" {
		returned = sdk.NewCoin(types.DefaultDenom, sdkmath.ZeroInt())
	}
	return emit(ctx, &types.EventWorkerUnbonded{Address: w.Address, Returned: returned})
}

// returnMaturedBonds returns the bonds whose unbonding ends by this block
// (up to max_unbondings_per_block).
func (k Keeper) returnMaturedBonds(ctx context.Context, p types.Params, height int64) error {
	return drainQueue(ctx, k, "unbond", k.UnbondingQueue, collections.NewPrefixUntilPairRange[int64, sdk.AccAddress](height), p.MaxUnbondingsPerBlock,
		func(c context.Context, key collections.Pair[int64, sdk.AccAddress]) error {
			return k.completeUnbonding(c, key.K2(), key.K1())
		})
}
