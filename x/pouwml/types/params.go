package types

import (
	"fmt"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// DefaultDenom is the chain's staking and fee denomination.
const DefaultDenom = "upouw"

// Bounds that hold whatever governance sets.
const (
	MaxBps            = 10_000
	MaxPPM            = 1_000_000
	MaxVerifiersBound = 64
	MaxJobsBound      = 4096
	MaxPerBlockBound  = 10_000
)

// DefaultParams are the genesis params.
func DefaultParams() Params {
	return Params{
		MinTaskFee:             sdk.NewCoin(DefaultDenom, sdkmath.NewInt(1_000)),
		MinWorkerBond:          sdk.NewCoin(DefaultDenom, sdkmath.NewInt(1_000_000)),
		UnbondingDelayBlocks:   100,
		DefaultVerifiersPerJob: 3,
		MaxVerifiersPerJob:     15,
		QuorumBps:              6_666, // ceil(n*0.6666): 2 of 3, 4 of 6, 6 of 9
		MaxClaimBlocks:         100_000,
		MaxTrainingBlocks:      1_000_000,
		MaxEvaluationBlocks:    100_000,
		MaxJobAttempts:         3,
		ClaimLapseSlashBps:     100,
		MisclaimSlashBps:       1_000,
		VerifierMissSlashBps:   100,
		JailBlocks:             1_000,
		MinerFeeBps:            8_000,
		MetricTolerancePpm:     0,
		OutlierPpm:             50_000,
		MaxConfigsPerTask:      64,
		MaxJobsPerTask:         1_024,
		MaxSeedsPerBlock:       100,
		MaxAssignmentsPerBlock: 100,
		MaxDeadlinesPerBlock:   200,
		MaxUnbondingsPerBlock:  100,

		CommitInterval:          50,
		RewardPerProof:          sdk.NewCoin(DefaultDenom, sdkmath.NewInt(10_000)),
		OmegaBE9:                1_000_000_000, // one ticket per sample of the batch
		OmegaME9:                1_000,         // one ticket per million parameters
		MaxTicketsPerStep:       1 << 20,
		MaxModelParams:          200_000_000, // trainable parameters of a configuration (and a proof's param_count)
		VerifiersPerProof:       3,
		VerdictCommitBlocks:     20,
		VerdictRevealBlocks:     20,
		ProofSlashBps:           2_000,
		AnchorWindowBlocks:      2_000,
		RetargetIntervalBlocks:  100,
		TargetProofsPerInterval: 10,
		MaxRetargetFactor:       4,
		MaxProofsPerBlock:       100,
	}
}

// DefaultTargetOdds is the genesis win probability of one ticket: 1/4096.
const DefaultTargetOdds = 4096

// Validate checks every param against its bounds.
func (p Params) Validate() error {
	if err := validCoin("min_task_fee", p.MinTaskFee); err != nil {
		return err
	}
	if err := validCoin("min_worker_bond", p.MinWorkerBond); err != nil {
		return err
	}
	if err := validCoin("reward_per_proof", p.RewardPerProof); err != nil {
		return err
	}
	if p.OmegaBE9 == 0 && p.OmegaME9 == 0 {
		return fmt.Errorf("%w: omega_b_e9 and omega_m_e9 cannot both be 0 (no step would earn a ticket)", ErrInvalidParams)
	}
	if !p.MinWorkerBond.IsPositive() {
		return fmt.Errorf("%w: min_worker_bond must be positive, got %s", ErrInvalidParams, p.MinWorkerBond)
	}
	checks := []struct {
		name        string
		val, lo, hi uint64
	}{
		{"unbonding_delay_blocks", p.UnbondingDelayBlocks, 1, 10_000_000},
		{"default_verifiers_per_job", uint64(p.DefaultVerifiersPerJob), 1, uint64(p.MaxVerifiersPerJob)},
		{"max_verifiers_per_job", uint64(p.MaxVerifiersPerJob), 1, MaxVerifiersBound},
		{"quorum_bps", uint64(p.QuorumBps), 1, MaxBps},
		{"max_claim_blocks", p.MaxClaimBlocks, 1, 100_000_000},
		{"max_training_blocks", p.MaxTrainingBlocks, 1, 100_000_000},
		{"max_evaluation_blocks", p.MaxEvaluationBlocks, 1, 100_000_000},
		{"max_job_attempts", uint64(p.MaxJobAttempts), 1, 100},
		{"claim_lapse_slash_bps", uint64(p.ClaimLapseSlashBps), 0, MaxBps},
		{"misclaim_slash_bps", uint64(p.MisclaimSlashBps), 0, MaxBps},
		{"verifier_miss_slash_bps", uint64(p.VerifierMissSlashBps), 0, MaxBps},
		{"jail_blocks", p.JailBlocks, 0, 100_000_000},
		{"miner_fee_bps", uint64(p.MinerFeeBps), 0, MaxBps},
		{"metric_tolerance_ppm", uint64(p.MetricTolerancePpm), 0, MaxPPM},
		{"outlier_ppm", uint64(p.OutlierPpm), 0, MaxPPM},
		{"max_configs_per_task", uint64(p.MaxConfigsPerTask), 1, MaxJobsBound},
		{"max_jobs_per_task", uint64(p.MaxJobsPerTask), 2, MaxJobsBound},
		{"max_seeds_per_block", uint64(p.MaxSeedsPerBlock), 1, MaxPerBlockBound},
		{"max_assignments_per_block", uint64(p.MaxAssignmentsPerBlock), 1, MaxPerBlockBound},
		{"max_deadlines_per_block", uint64(p.MaxDeadlinesPerBlock), 1, MaxPerBlockBound},
		{"max_unbondings_per_block", uint64(p.MaxUnbondingsPerBlock), 1, MaxPerBlockBound},
		{"commit_interval", p.CommitInterval, 1, 1_000_000},
		{"omega_b_e9", p.OmegaBE9, 0, 1_000_000_000_000},
		{"omega_m_e9", p.OmegaME9, 0, 1_000_000_000_000},
		{"max_tickets_per_step", p.MaxTicketsPerStep, 1, 1 << 32},
		{"max_model_params", p.MaxModelParams, 1, 1 << 40},
		{"verifiers_per_proof", uint64(p.VerifiersPerProof), 1, MaxVerifiersBound},
		{"verdict_commit_blocks", p.VerdictCommitBlocks, 1, 1_000_000},
		{"verdict_reveal_blocks", p.VerdictRevealBlocks, 1, 1_000_000},
		{"proof_slash_bps", uint64(p.ProofSlashBps), 0, MaxBps},
		{"anchor_window_blocks", p.AnchorWindowBlocks, 2, 1_000_000},
		{"retarget_interval_blocks", p.RetargetIntervalBlocks, 1, 10_000_000},
		{"target_proofs_per_interval", p.TargetProofsPerInterval, 1, 1 << 32},
		{"max_retarget_factor", p.MaxRetargetFactor, 1, 1 << 16},
		{"max_proofs_per_block", uint64(p.MaxProofsPerBlock), 1, MaxPerBlockBound},
	}
	for _, c := range checks {
		if c.val < c.lo || c.val > c.hi {
			return fmt.Errorf("%w: %s must be in [%d, %d], got %d", ErrInvalidParams, c.name, c.lo, c.hi, c.val)
		}
	}
	return nil
}

func validCoin(name string, c sdk.Coin) error {
	if err := sdk.ValidateDenom(c.Denom); err != nil {
		return fmt.Errorf("%w: %s denom %q: %v", ErrInvalidParams, name, c.Denom, err)
	}
	if c.Amount.IsNil() || c.Amount.IsNegative() {
		return fmt.Errorf("%w: %s must be a non-negative amount, got %s", ErrInvalidParams, name, c.Amount)
	}
	return nil
}
