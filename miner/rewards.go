package miner

import (
	"context"
	"fmt"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/gogoproto/proto"

	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// BlockEvents is an optional part of a Chain: the events of a block's
// finalization, where the module settles proofs (its EndBlocker emits
// EventProofSettled with the reward actually paid). With it the miner
// counts the exact rewards of its accepted proofs; without it, the
// chain's reward_per_proof for each, which is what the chain pays unless
// its reward pool runs short.
type BlockEvents interface {
	FinalizeBlockEvents(ctx context.Context, height int64) ([]abci.Event, error)
}

// rewardPoll is the default period of asking for the submitted proofs'
// status: settlement takes the verifiers' commit and reveal phases, many
// blocks.
const rewardPoll = 5 * time.Second

// rewardWatch holds the ids of this miner's submitted proofs that have
// not settled yet.
type rewardWatch struct {
	mu      sync.Mutex
	pending map[uint64]bool
}

// submittedProofs returns the ids of the proofs a tx response created
// (its EventProofSubmitted events).
func submittedProofs(res *sdk.TxResponse) []uint64 {
	if res == nil {
		return nil
	}
	var ids []uint64
	for _, e := range res.Events {
		if e.Type != proofSubmittedEvent {
			continue
		}
		msg, err := sdk.ParseTypedEvent(e)
		if err != nil {
			continue
		}
		if ev, ok := msg.(*types.EventProofSubmitted); ok {
			ids = append(ids, ev.Id)
		}
	}
	return ids
}

// The event types are the events' protobuf names (EmitTypedEvent).
var (
	proofSubmittedEvent = proto.MessageName(&types.EventProofSubmitted{})
	proofSettledEvent   = proto.MessageName(&types.EventProofSettled{})
)

// watchProofs adds submitted proofs to the reward watch.
func (m *Miner) watchProofs(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	m.rewards.mu.Lock()
	for _, id := range ids {
		m.rewards.pending[id] = true
	}
	m.rewards.mu.Unlock()
}

// rewardLoop checks the watched proofs every rewardEvery until ctx ends.
func (m *Miner) rewardLoop(ctx context.Context) {
	worker.Every(ctx, m.rewardEvery, func() {
		if err := m.checkRewards(ctx); err != nil && ctx.Err() == nil {
			m.log.Debug("reading proof rewards", "err", err)
		}
	})
}

// checkRewards asks for the status of every watched proof; an accepted
// one adds its reward to pouw_miner_rewards_earned_upouw_total, and any
// settled one leaves the watch. A failed query leaves the proof for the
// next round.
func (m *Miner) checkRewards(ctx context.Context) error {
	m.rewards.mu.Lock()
	ids := make([]uint64, 0, len(m.rewards.pending))
	for id := range m.rewards.pending {
		ids = append(ids, id)
	}
	m.rewards.mu.Unlock()
	var nominal *sdk.Coin
	for _, id := range ids {
		res, err := m.chain.Proof(ctx, &types.QueryProofRequest{Id: id})
		if err != nil {
			return fmt.Errorf("proof %d: %w", id, err)
		}
		p := res.Proof
		switch p.Status {
		case types.PROOF_STATUS_PENDING, types.PROOF_STATUS_COMMITTING, types.PROOF_STATUS_REVEALING:
			continue
		case types.PROOF_STATUS_ACCEPTED:
			amount, err := m.settledReward(ctx, p)
			if err != nil {
				m.log.Debug("proof reward not in the block's events; counting reward_per_proof", "proof", id, "err", err)
				if nominal == nil {
					params, err := m.chain.Params(ctx, &types.QueryParamsRequest{})
					if err != nil {
						return err
					}
					nominal = &params.Params.RewardPerProof
				}
				if !nominal.Amount.IsNil() {
					amount = nominal.Amount.Uint64()
				}
			}
			m.Metrics.rewards.Add(float64(amount))
		}
		m.rewards.mu.Lock()
		delete(m.rewards.pending, id)
		m.rewards.mu.Unlock()
	}
	return nil
}

// settledReward reads the reward an accepted proof paid from its
// settlement block's EventProofSettled (chains with BlockEvents only).
func (m *Miner) settledReward(ctx context.Context, p types.Proof) (uint64, error) {
	be, ok := m.chain.(BlockEvents)
	if !ok {
		return 0, fmt.Errorf("the chain client reads no block events")
	}
	events, err := be.FinalizeBlockEvents(ctx, p.SettledHeight)
	if err != nil {
		return 0, err
	}
	for _, e := range events {
		if e.Type != proofSettledEvent {
			continue
		}
		msg, err := sdk.ParseTypedEvent(e)
		if err != nil {
			continue
		}
		if ev, ok := msg.(*types.EventProofSettled); ok && ev.Id == p.Id {
			return ev.Reward.Amount.Uint64(), nil
		}
	}
	return 0, fmt.Errorf("no EventProofSettled of proof %d at height %d", p.Id, p.SettledHeight)
}
