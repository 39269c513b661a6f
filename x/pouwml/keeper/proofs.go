package keeper

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Proofs: the Proof-of-Useful-Work half of the module, specified in
// x/pouwml/README.md ("Proof of useful work"):
//
//   - A claiming miner commits its weights hash and optimizer state hash at
//     steps 0, c, 2c, ... (c = commit_interval), each extending its previous
//     commitment on the job.
//     The anchor of a commitment posted at height h is the header hash of
//     block h+1, recorded in BlockHashes when that block begins (lottery.go).
//   - A step i in [s, s+c) of a commitment at step s earns
//     pouw.TicketCount tickets and one draw: its ticket
//     floor(pouw.TicketValueV2(d_i, anchor) / target) wins when it is below
//     the count. SubmitProof takes version 2 proofs only; it recomputes the
//     digest from its parts (binding the miner), checks the claim, the
//     commitment (a proof of step s must start from pouw.CommitLink of the
//     committed state hashes), the step range and the lottery, and refuses
//     any digest seen before.
//   - Verifiers drawn from the next block's hash (lottery.go) replay the
//     steps off chain and vote by commit-reveal; settlement.go decides and
//     pays: a quorum of accepts pays reward_per_proof from the reward pool,
//     a quorum of rejects slashes and jails the miner; verifiers on the
//     losing side, silent or not revealing, are slashed.
//   - Every retarget_interval_blocks the target moves toward
//     target_proofs_per_interval accepted proofs by at most
//     max_retarget_factor (lottery.go).

func (s msgServer) CommitCheckpoint(ctx context.Context, msg *types.MsgCommitCheckpoint) (*types.MsgCommitCheckpointResponse, error) {
	addr, err := s.k.parseAddr("miner", msg.Miner)
	if err != nil {
		return nil, err
	}
	if err := types.ValidateHash("weights_hash", msg.WeightsHash); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidCommitment, err.Error())
	}
	// The optimizer state decides every later step as much as the weights
	// do; unbound, a miner could choose it after seeing the anchor.
	if err := types.ValidateHash("optimizer_hash", msg.OptimizerHash); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidCommitment, err.Error())
	}
	p, err := s.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	job, err := s.k.liveClaim(ctx, msg.TaskId, msg.JobIndex, msg.Miner)
	if err != nil {
		return nil, err
	}
	lastKey := collections.Join3(msg.TaskId, msg.JobIndex, addr)
	last, err := s.k.LastCommit.Get(ctx, lastKey)
	switch {
	case errors.Is(err, collections.ErrNotFound):
		if msg.Step != 0 {
			return nil, errorsmod.Wrapf(types.ErrInvalidCommitment, "the first commitment of job %d/%d must be at step 0 (the seeded initial weights), got step %d", job.TaskId, job.Index, msg.Step)
		}
	case err != nil:
		return nil, err
	default:
		if msg.Step != last+p.CommitInterval {
			return nil, errorsmod.Wrapf(types.ErrInvalidCommitment, "a commitment must extend the previous one at step %d by commit_interval %d: expected step %d, got %d", last, p.CommitInterval, last+p.CommitInterval, msg.Step)
		}
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	c := types.Commitment{TaskId: msg.TaskId, JobIndex: msg.JobIndex, Miner: msg.Miner, Step: msg.Step, WeightsHash: msg.WeightsHash, OptimizerHash: msg.OptimizerHash, Height: height}
	if err := s.k.Commitments.Set(ctx, collections.Join4(msg.TaskId, msg.JobIndex, addr, msg.Step), c); err != nil {
		return nil, err
	}
	if err := s.k.LastCommit.Set(ctx, lastKey, msg.Step); err != nil {
		return nil, err
	}
	return &types.MsgCommitCheckpointResponse{}, emit(ctx, &types.EventCheckpointCommitted{TaskId: msg.TaskId, JobIndex: msg.JobIndex, Miner: msg.Miner, Step: msg.Step,
		WeightsHash: msg.WeightsHash, OptimizerHash: msg.OptimizerHash})
}

// liveClaim returns the job if it is CLAIMED by miner within its training deadline.
func (k Keeper) liveClaim(ctx context.Context, taskID uint64, idx uint32, miner string) (types.Job, error) {
	job, err := k.getJob(ctx, taskID, idx)
	if err != nil {
		return job, err
	}
	if job.Status != types.JOB_STATUS_CLAIMED || job.Miner != miner {
		return job, errorsmod.Wrapf(types.ErrNotJobMiner, "job %d/%d is %s by %q; only its live claimant may commit or prove", taskID, idx, job.Status, job.Miner)
	}
	if h := sdk.UnwrapSDKContext(ctx).BlockHeight(); h > job.Deadline {
		return job, errorsmod.Wrapf(types.ErrDeadlinePassed, "job %d/%d training deadline was height %d, now %d", taskID, idx, job.Deadline, h)
	}
	return job, nil
}

func hashOf(field string, b []byte) (pouw.Hash, error) {
	var h pouw.Hash
	if err := types.ValidateHash(field, b); err != nil {
		return h, errorsmod.Wrap(types.ErrInvalidProof, err.Error())
	}
	copy(h[:], b)
	return h, nil
}

func (s msgServer) SubmitProof(ctx context.Context, msg *types.MsgSubmitProof) (*types.MsgSubmitProofResponse, error) {
	addr, err := s.k.parseAddr("miner", msg.Miner)
	if err != nil {
		return nil, err
	}
	if msg.DigestVersion != pouw.DigestV2 {
		return nil, errorsmod.Wrapf(types.ErrInvalidProof, "digest_version %d: this chain accepts version %d (pouw/v2) proofs only", msg.DigestVersion, pouw.DigestV2)
	}
	var parts pouw.StepParts
	for _, f := range []struct {
		name string
		in   []byte
		out  *pouw.Hash
	}{{"weights_before", msg.WeightsBefore, &parts.Prev}, {"batch", msg.Batch, &parts.Batch}, {"gradients", msg.Gradients, &parts.GradSample}, {"weights_after", msg.WeightsAfter, &parts.WeightSample}} {
		if *f.out, err = hashOf(f.name, f.in); err != nil {
			return nil, err
		}
	}
	p, err := s.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if msg.ParamCount == 0 || msg.ParamCount > p.MaxModelParams {
		return nil, errorsmod.Wrapf(types.ErrInvalidProof, "param_count must be in [1, %d], got %d", p.MaxModelParams, msg.ParamCount)
	}
	job, err := s.k.liveClaim(ctx, msg.TaskId, msg.JobIndex, msg.Miner)
	if err != nil {
		return nil, err
	}
	task, err := s.k.getTask(ctx, msg.TaskId)
	if err != nil {
		return nil, err
	}
	commit, err := s.k.Commitments.Get(ctx, collections.Join4(msg.TaskId, msg.JobIndex, addr, msg.CommitStep))
	if errors.Is(err, collections.ErrNotFound) {
		return nil, errorsmod.Wrapf(types.ErrInvalidProof, "%s has no commitment at step %d of job %d/%d", msg.Miner, msg.CommitStep, job.TaskId, job.Index)
	} else if err != nil {
		return nil, err
	}
	if msg.Step < msg.CommitStep || msg.Step >= msg.CommitStep+p.CommitInterval {
		return nil, errorsmod.Wrapf(types.ErrInvalidProof, "step %d does not descend from the commitment at step %d: it must lie in [%d, %d)", msg.Step, msg.CommitStep, msg.CommitStep, msg.CommitStep+p.CommitInterval)
	}
	if msg.Step == msg.CommitStep {
		// The chain of step digests starts at the committed state.
		var wh, oh pouw.Hash
		copy(wh[:], commit.WeightsHash)
		copy(oh[:], commit.OptimizerHash)
		if link := pouw.CommitLink(wh, oh); parts.Prev != link {
			return nil, errorsmod.Wrapf(types.ErrInvalidProof, "weights_before (the previous link) %x of step %d is not the link %x of its commitment", msg.WeightsBefore, msg.Step, link)
		}
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	anchor, err := s.k.BlockHashes.Get(ctx, commit.Height+1)
	if errors.Is(err, collections.ErrNotFound) {
		if commit.Height+1 > height-1 {
			return nil, errorsmod.Wrapf(types.ErrAnchorUnavailable, "the anchor of the commitment at height %d is block %d, not yet begun", commit.Height, commit.Height+1)
		}
		return nil, errorsmod.Wrapf(types.ErrAnchorUnavailable, "the anchor block %d is older than anchor_window_blocks %d", commit.Height+1, p.AnchorWindowBlocks)
	} else if err != nil {
		return nil, err
	}
	config := task.Configs[job.ConfigIndex]
	tickets := pouw.TicketCount(p.OmegaBE9, p.OmegaME9, uint64(config.BatchSize), msg.ParamCount, p.MaxTicketsPerStep)
	if msg.TicketIndex >= tickets {
		return nil, errorsmod.Wrapf(types.ErrInvalidProof, "ticket index %d out of range: the step earns %d tickets", msg.TicketIndex, tickets)
	}
	digest, err := pouw.StepDigest(pouw.JobID{TaskID: msg.TaskId, JobIndex: msg.JobIndex}, addr, msg.Step, parts)
	if err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidProof, err.Error())
	}
	if id, err := s.k.ProofByDigest.Get(ctx, digest[:]); err == nil {
		return nil, errorsmod.Wrapf(types.ErrDuplicateProof, "digest %x is proof %d", digest, id)
	} else if !errors.Is(err, collections.ErrNotFound) {
		return nil, err
	}
	targetBz, err := s.k.Target.Get(ctx)
	if err != nil {
		return nil, err
	}
	target, err := pouw.ParseTarget(targetBz)
	if err != nil {
		return nil, err
	}
	value, ticket, won := pouw.NewLottery(tickets, target).Draw(digest, anchor)
	if !won {
		return nil, errorsmod.Wrapf(types.ErrLosingTicket, "lottery value %x is at ticket %d of target %x; the step's %d tickets lose", value, pouw.TicketIndex(value, target), target, tickets)
	}
	if ticket != msg.TicketIndex {
		return nil, errorsmod.Wrapf(types.ErrInvalidProof, "ticket_index %d: the lottery value %x is ticket %d", msg.TicketIndex, value, ticket)
	}
	id, err := s.k.ProofSeq.Next(ctx)
	if err != nil {
		return nil, err
	}
	proof := types.Proof{
		Id: id, TaskId: msg.TaskId, JobIndex: msg.JobIndex, Miner: msg.Miner, Step: msg.Step, CommitStep: msg.CommitStep,
		WeightsBefore: msg.WeightsBefore, Batch: msg.Batch, Gradients: msg.Gradients, WeightsAfter: msg.WeightsAfter,
		ParamCount: msg.ParamCount, TicketIndex: msg.TicketIndex, TicketCount: tickets, Anchor: anchor,
		Digest: digest[:], Value: value[:], Status: types.PROOF_STATUS_PENDING, SubmittedHeight: height, DigestVersion: pouw.DigestV2,
	}
	if err := s.k.Proofs.Set(ctx, id, proof); err != nil {
		return nil, err
	}
	if err := s.k.ProofByDigest.Set(ctx, digest[:], id); err != nil {
		return nil, err
	}
	if err := s.k.ProofQueue.Set(ctx, collections.Join(height+1, id)); err != nil {
		return nil, err
	}
	return &types.MsgSubmitProofResponse{Id: id}, emit(ctx, &types.EventProofSubmitted{Id: id, TaskId: msg.TaskId, JobIndex: msg.JobIndex,
		Miner: msg.Miner, Step: msg.Step, TicketIndex: msg.TicketIndex, Digest: digest[:]})
}

func (k Keeper) getProof(ctx context.Context, id uint64) (types.Proof, error) {
	p, err := k.Proofs.Get(ctx, id)
	if errors.Is(err, collections.ErrNotFound) {
		return p, errorsmod.Wrapf(types.ErrProofNotFound, "proof %d", id)
	}
	return p, err
}

func (s msgServer) SubmitVerdict(ctx context.Context, msg *types.MsgSubmitVerdict) (*types.MsgSubmitVerdictResponse, error) {
	addr, err := s.k.parseAddr("verifier", msg.Verifier)
	if err != nil {
		return nil, err
	}
	if err := types.ValidateHash("commitment", msg.Commitment); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidVerdict, err.Error())
	}
	proof, err := s.k.getProof(ctx, msg.ProofId)
	if err != nil {
		return nil, err
	}
	if proof.Status != types.PROOF_STATUS_COMMITTING {
		return nil, errorsmod.Wrapf(types.ErrVerdictPhase, "proof %d is %s; verdicts are committed while it is COMMITTING", proof.Id, proof.Status)
	}
	if !slices.Contains(proof.Verifiers, msg.Verifier) {
		return nil, errorsmod.Wrapf(types.ErrNotAssigned, "%s is not among proof %d's verifiers", msg.Verifier, proof.Id)
	}
	key := collections.Join(proof.Id, addr)
	if has, err := s.k.Verdicts.Has(ctx, key); err != nil {
		return nil, err
	} else if has {
		return nil, errorsmod.Wrapf(types.ErrAlreadyReported, "%s already committed a verdict on proof %d", msg.Verifier, proof.Id)
	}
	if err := s.k.Verdicts.Set(ctx, key, types.Verdict{ProofId: proof.Id, Verifier: msg.Verifier, Commitment: msg.Commitment}); err != nil {
		return nil, err
	}
	proof.Commits++
	if proof.Commits == uint32(len(proof.Verifiers)) {
		// Everyone committed: the reveal phase opens now.
		proof.Status = types.PROOF_STATUS_REVEALING
	}
	if err := s.k.Proofs.Set(ctx, proof.Id, proof); err != nil {
		return nil, err
	}
	return &types.MsgSubmitVerdictResponse{}, emit(ctx, &types.EventVerdictCommitted{ProofId: proof.Id, Verifier: msg.Verifier})
}

func (s msgServer) RevealVerdict(ctx context.Context, msg *types.MsgRevealVerdict) (*types.MsgRevealVerdictResponse, error) {
	addr, err := s.k.parseAddr("verifier", msg.Verifier)
	if err != nil {
		return nil, err
	}
	digest, err := hashOf("digest", msg.Digest)
	if err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidVerdict, err.Error())
	}
	if len(msg.Salt) < 16 || len(msg.Salt) > 64 {
		return nil, errorsmod.Wrapf(types.ErrInvalidVerdict, "salt must be 16 to 64 bytes, got %d", len(msg.Salt))
	}
	proof, err := s.k.getProof(ctx, msg.ProofId)
	if err != nil {
		return nil, err
	}
	if proof.Status != types.PROOF_STATUS_REVEALING {
		return nil, errorsmod.Wrapf(types.ErrVerdictPhase, "proof %d is %s; verdicts are revealed once every verifier committed or the commit phase ended", proof.Id, proof.Status)
	}
	key := collections.Join(proof.Id, addr)
	v, err := s.k.Verdicts.Get(ctx, key)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, errorsmod.Wrapf(types.ErrInvalidVerdict, "%s committed no verdict on proof %d", msg.Verifier, proof.Id)
	} else if err != nil {
		return nil, err
	}
	if v.Revealed {
		return nil, errorsmod.Wrapf(types.ErrAlreadyReported, "%s already revealed its verdict on proof %d", msg.Verifier, proof.Id)
	}
	want := pouw.VerdictCommitment(proof.Id, addr, msg.Accept, digest, msg.Salt)
	if !bytes.Equal(want[:], v.Commitment) {
		return nil, errorsmod.Wrapf(types.ErrInvalidVerdict, "reveal does not open %s's commitment %x", msg.Verifier, v.Commitment)
	}
	// An accept must carry the proof's own digest: a verifier cannot accept
	// a step it recomputed differently.
	if msg.Accept && !bytes.Equal(msg.Digest, proof.Digest) {
		return nil, errorsmod.Wrapf(types.ErrInvalidVerdict, "an accept must carry the proof's digest %x, got %x", proof.Digest, msg.Digest)
	}
	v.Revealed, v.Accept, v.Digest = true, msg.Accept, msg.Digest
	if err := s.k.Verdicts.Set(ctx, key, v); err != nil {
		return nil, err
	}
	if msg.Accept {
		proof.Accepts++
	} else {
		proof.Rejects++
	}
	if err := s.k.Proofs.Set(ctx, proof.Id, proof); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventVerdictRevealed{ProofId: proof.Id, Verifier: msg.Verifier, Accept: msg.Accept}); err != nil {
		return nil, err
	}
	if proof.Accepts+proof.Rejects == proof.Commits && proof.Commits == uint32(len(proof.Verifiers)) {
		return &types.MsgRevealVerdictResponse{Settled: true}, s.k.settleProof(ctx, proof)
	}
	return &types.MsgRevealVerdictResponse{}, nil
}

// proofDeadline ends a verdict phase: at the commit deadline the reveal
// phase opens (with whoever committed); at the reveal deadline the proof
// settles with whoever revealed.
func (k Keeper) proofDeadline(ctx context.Context, height int64, id uint64) error {
	proof, err := k.getProof(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case proof.Status == types.PROOF_STATUS_COMMITTING && height == proof.CommitDeadline:
		proof.Status = types.PROOF_STATUS_REVEALING
		return k.Proofs.Set(ctx, id, proof)
	case proof.Status == types.PROOF_STATUS_REVEALING && height == proof.RevealDeadline:
		return k.settleProof(ctx, proof)
	}
	return nil // stale
}

// endVerdictPhases ends the verdict phases that passed by this block (up to
// max_proofs_per_block).
func (k Keeper) endVerdictPhases(ctx context.Context, p types.Params, height int64) error {
	return drainQueue(ctx, k, "proof-deadline", k.ProofDeadlineQueue, collections.NewPrefixUntilPairRange[int64, uint64](height), p.MaxProofsPerBlock,
		func(c context.Context, key collections.Pair[int64, uint64]) error {
			return k.proofDeadline(c, key.K1(), key.K2())
		})
}
