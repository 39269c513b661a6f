package keeper

import (
	"reflect"
	"testing"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// The rows below are the rules of x/pouwml/README.md ("Settlement", "Proof
// of useful work"), one per row, checked against the pure decide functions.
// Defaults: quorum_bps 6666 (2 of 3, 3 of 4), metric_tolerance_ppm 0,
// outlier_ppm 50000, max_job_attempts 3.

// same and other build reports on the miner's model and on another hash.
func same(v string, ppm uint64) jobReport {
	return jobReport{Verifier: v, SameModel: true, ValuePpm: ppm}
}
func other(v string, ppm uint64) jobReport { return jobReport{Verifier: v, ValuePpm: ppm} }

func TestDecideJob(t *testing.T) {
	p := types.DefaultParams()
	abc := []string{"a", "b", "c"}
	misclaim := func(d jobDecision) jobDecision {
		d.Action, d.MinerSlashBps, d.MinerJailBlocks = jobMisclaim, p.MisclaimSlashBps, p.JailBlocks
		return d
	}
	reject := func(exhausted bool) jobDecision {
		return jobDecision{Action: jobReject, MinerSlashBps: p.MisclaimSlashBps, MinerJailBlocks: p.JailBlocks, Exhausted: exhausted}
	}
	for _, tc := range []struct {
		rule   string
		params func(*types.Params)
		in     jobInputs
		want   jobDecision
	}{
		{
			rule: "a quorum evaluated the miner's model and the claim is the median: ACCEPTED at the median",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("a", 900_000), same("b", 910_000), same("c", 905_000)}, ClaimedPpm: 905_000, Attempts: 1},
			want: jobDecision{Action: jobAccept, VerifiedPpm: 905_000},
		},
		{
			rule: "an even count of matching reports: the verified value is the floor of the mean of the two middle ones",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("a", 900_001), same("b", 900_004)}, ClaimedPpm: 900_002, Attempts: 1},
			want: jobDecision{Action: jobAccept, VerifiedPpm: 900_002},
		},
		{
			rule: "a claim off the median by more than metric_tolerance_ppm: MISCLAIMED, the verified value stands, the miner is slashed misclaim_slash_bps and jailed jail_blocks",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("a", 900_000), same("b", 900_000), same("c", 900_000)}, ClaimedPpm: 900_001, Attempts: 1},
			want: misclaim(jobDecision{VerifiedPpm: 900_000}),
		},
		{
			rule:   "a claim exactly metric_tolerance_ppm off the median is ACCEPTED",
			params: func(p *types.Params) { p.MetricTolerancePpm = 1_000 },
			in:     jobInputs{Assigned: abc, Reports: []jobReport{same("a", 900_000), same("b", 900_000)}, ClaimedPpm: 901_000, Attempts: 1},
			want:   jobDecision{Action: jobAccept, VerifiedPpm: 900_000},
		},
		{
			rule:   "a claim one ppm beyond metric_tolerance_ppm is MISCLAIMED",
			params: func(p *types.Params) { p.MetricTolerancePpm = 1_000 },
			in:     jobInputs{Assigned: abc, Reports: []jobReport{same("a", 900_000), same("b", 900_000)}, ClaimedPpm: 898_999, Attempts: 1},
			want:   misclaim(jobDecision{VerifiedPpm: 900_000}),
		},
		{
			rule: "a report further than outlier_ppm from the median is an outlier; one exactly outlier_ppm away is not",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("a", 850_000), same("b", 900_000), same("c", 950_000)}, ClaimedPpm: 900_000, Attempts: 1},
			want: jobDecision{Action: jobAccept, VerifiedPpm: 900_000},
		},
		{
			rule: "a matching report more than outlier_ppm from the median is recorded as an outlier",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("a", 849_999), same("b", 900_000), same("c", 900_000)}, ClaimedPpm: 900_000, Attempts: 1},
			want: jobDecision{Action: jobAccept, VerifiedPpm: 900_000, Outliers: []jobReport{same("a", 849_999)}},
		},
		{
			rule: "when the quorum is on the miner's model, a report on another hash counts as an outlier whatever its value",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("a", 900_000), other("b", 900_000), same("c", 900_000)}, ClaimedPpm: 900_000, Attempts: 1},
			want: jobDecision{Action: jobAccept, VerifiedPpm: 900_000, Outliers: []jobReport{other("b", 900_000)}},
		},
		{
			rule: "a misclaimed job still records its outliers",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("a", 700_000), same("b", 900_000), same("c", 900_000)}, ClaimedPpm: 950_000, Attempts: 1},
			want: misclaim(jobDecision{VerifiedPpm: 900_000, Outliers: []jobReport{same("a", 700_000)}}),
		},
		{
			rule: "a quorum evaluated another hash: the result is rejected, the miner slashed misclaim_slash_bps and jailed, the job reopens",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{other("a", 1), other("b", 2), same("c", 900_000)}, ClaimedPpm: 900_000, Attempts: 2},
			want: reject(false),
		},
		{
			rule: "a rejected result whose job used max_job_attempts: the job FAILS instead of reopening",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{other("a", 1), other("b", 2), same("c", 900_000)}, ClaimedPpm: 900_000, Attempts: 3},
			want: reject(true),
		},
		{
			rule:   "both sides reach a low quorum: the quorum on the miner's model decides",
			params: func(p *types.Params) { p.QuorumBps = 3_000 }, // 1 of 3
			in:     jobInputs{Assigned: abc, Reports: []jobReport{other("a", 1), same("b", 900_000)}, ClaimedPpm: 900_000, Attempts: 1},
			want:   jobDecision{Action: jobAccept, VerifiedPpm: 900_000, Outliers: []jobReport{other("a", 1)}},
		},
		{
			rule: "everyone reported but neither side has a quorum, before the deadline: nothing happens (only the deadline redraws)",
			in:   jobInputs{Assigned: []string{"a", "b", "c", "d"}, Reports: []jobReport{same("a", 1), same("b", 1), other("c", 1), other("d", 1)}, ClaimedPpm: 1, Attempts: 1},
			want: jobDecision{Action: jobWait},
		},
		{
			rule: "no quorum at the deadline: fresh verifiers are drawn for the same result, and the absent lose verifier_miss_slash_bps",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("b", 900_000)}, ClaimedPpm: 900_000, Attempts: 2, AtDeadline: true},
			want: jobDecision{Action: jobRedraw, Absent: []string{"a", "c"}, AbsentSlashBps: p.VerifierMissSlashBps},
		},
		{
			rule: "no quorum at the deadline after max_job_attempts: the job FAILS",
			in:   jobInputs{Assigned: abc, ClaimedPpm: 900_000, Attempts: 3, AtDeadline: true},
			want: jobDecision{Action: jobRedraw, Absent: abc, AbsentSlashBps: p.VerifierMissSlashBps, Exhausted: true},
		},
		{
			rule: "a quorum at the deadline settles; the verifier who did not report loses verifier_miss_slash_bps",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("a", 900_000), same("c", 900_000)}, ClaimedPpm: 900_000, Attempts: 1, AtDeadline: true},
			want: jobDecision{Action: jobAccept, VerifiedPpm: 900_000, Absent: []string{"b"}, AbsentSlashBps: p.VerifierMissSlashBps},
		},
		{
			rule: "before the deadline nobody is absent, whoever has not reported yet",
			in:   jobInputs{Assigned: abc, Reports: []jobReport{same("a", 900_000), same("c", 900_000)}, ClaimedPpm: 900_000, Attempts: 1},
			want: jobDecision{Action: jobAccept, VerifiedPpm: 900_000},
		},
		{
			rule: "a job with no verifiers has no quorum: at the deadline it is redrawn",
			in:   jobInputs{ClaimedPpm: 900_000, Attempts: 1, AtDeadline: true},
			want: jobDecision{Action: jobRedraw},
		},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			params := p
			if tc.params != nil {
				tc.params(&params)
			}
			if got := decideJob(tc.in, params); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decideJob:\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func TestDecideProof(t *testing.T) {
	p := types.DefaultParams()
	accept := func(v string) proofVote { return proofVote{Verifier: v, Revealed: true, Accept: true} }
	reject := func(v string) proofVote { return proofVote{Verifier: v, Revealed: true} }
	silent := func(v string) proofVote { return proofVote{Verifier: v} }
	type want struct {
		status     types.ProofStatus
		rewardOwed bool
		slashMiner bool
		fates      []voteFate
	}
	for _, tc := range []struct {
		rule  string
		votes []proofVote
		want  want
	}{
		{
			rule:  "a quorum of accepts pays reward_per_proof; every verifier revealed on the winning side keeps its bond",
			votes: []proofVote{accept("a"), accept("b"), accept("c")},
			want:  want{status: types.PROOF_STATUS_ACCEPTED, rewardOwed: true, fates: []voteFate{voteKept, voteKept, voteKept}},
		},
		{
			rule:  "a verifier that voted reject against an accepted proof loses verifier_miss_slash_bps",
			votes: []proofVote{accept("a"), reject("b"), accept("c")},
			want:  want{status: types.PROOF_STATUS_ACCEPTED, rewardOwed: true, fates: []voteFate{voteKept, voteAgainst, voteKept}},
		},
		{
			rule:  "a verifier that did not reveal loses verifier_miss_slash_bps, even on an accepted proof",
			votes: []proofVote{accept("a"), accept("b"), silent("c")},
			want:  want{status: types.PROOF_STATUS_ACCEPTED, rewardOwed: true, fates: []voteFate{voteKept, voteKept, voteMissed}},
		},
		{
			rule:  "a quorum of rejects slashes the miner proof_slash_bps and jails it; the accepting verifier is slashed",
			votes: []proofVote{reject("a"), accept("b"), reject("c")},
			want:  want{status: types.PROOF_STATUS_REJECTED, slashMiner: true, fates: []voteFate{voteKept, voteAgainst, voteKept}},
		},
		{
			rule:  "neither side has a quorum: UNDECIDED, no reward, nobody who revealed is slashed, the silent still are",
			votes: []proofVote{accept("a"), reject("b"), silent("c")},
			want:  want{status: types.PROOF_STATUS_UNDECIDED, fates: []voteFate{voteKept, voteKept, voteMissed}},
		},
		{
			rule:  "nobody revealed: UNDECIDED and every verifier is slashed",
			votes: []proofVote{silent("a"), silent("b"), silent("c")},
			want:  want{status: types.PROOF_STATUS_UNDECIDED, fates: []voteFate{voteMissed, voteMissed, voteMissed}},
		},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			in := proofInputs{Votes: tc.votes}
			for _, v := range tc.votes {
				switch {
				case v.Revealed && v.Accept:
					in.Accepts++
				case v.Revealed:
					in.Rejects++
				}
			}
			d := decideProof(in, p)
			if d.Status != tc.want.status {
				t.Fatalf("status %s, want %s", d.Status, tc.want.status)
			}
			wantReward := sdk.NewCoin(p.RewardPerProof.Denom, sdkmath.ZeroInt())
			if tc.want.rewardOwed {
				wantReward = p.RewardPerProof
			}
			if !d.Reward.IsEqual(wantReward) {
				t.Fatalf("reward %s, want %s", d.Reward, wantReward)
			}
			var wantSlash uint32
			var wantJail uint64
			if tc.want.slashMiner {
				wantSlash, wantJail = p.ProofSlashBps, p.JailBlocks
			}
			if d.MinerSlashBps != wantSlash || d.MinerJailBlocks != wantJail {
				t.Fatalf("miner slash %d bps, jail %d blocks; want %d, %d", d.MinerSlashBps, d.MinerJailBlocks, wantSlash, wantJail)
			}
			if !reflect.DeepEqual(d.Fates, tc.want.fates) {
				t.Fatalf("fates %v, want %v", d.Fates, tc.want.fates)
			}
			if d.VerifierSlashBps != p.VerifierMissSlashBps {
				t.Fatalf("verifier slash %d bps, want verifier_miss_slash_bps %d", d.VerifierSlashBps, p.VerifierMissSlashBps)
			}
		})
	}
}

func TestDecidePayout(t *testing.T) {
	p := types.DefaultParams() // miner_fee_bps 8000
	settled := func(miner string, ppm uint64, reporters ...string) closingJob {
		return closingJob{Settled: true, Accepted: true, Miner: miner, VerifiedPpm: ppm, Reporters: reporters}
	}
	misclaimed := func(miner string, ppm uint64, reporters ...string) closingJob {
		j := settled(miner, ppm, reporters...)
		j.Accepted = false
		return j
	}
	unsettled := closingJob{}
	score := func(c uint32, complete bool, folds uint32, mean, std uint64) types.ConfigScore {
		return types.ConfigScore{ConfigIndex: c, Complete: complete, FoldsSettled: folds, MeanPpm: mean, StdPpm: std}
	}
	for _, tc := range []struct {
		rule           string
		configs, folds uint32
		fee            int64
		jobs           []closingJob
		wantScores     []types.ConfigScore
		wantBest       int // -1: none
		wantPays       []string
		wantRefund     int64
	}{
		{
			rule:    "each job is worth floor(fee / jobs): miner_fee_bps of it to the miner of an accepted job, the rest split equally (floor) among the verifiers who reported the verified model; rounding is refunded",
			configs: 1, folds: 2, fee: 1_001,
			jobs:       []closingJob{settled("m1", 900_000, "v1", "v2", "v3"), settled("m1", 800_000, "v1", "v2")},
			wantScores: []types.ConfigScore{score(0, true, 2, 850_000, 50_000)},
			wantBest:   0,
			wantPays:   []string{"m1 miner 800", "v1 verifier 83", "v2 verifier 83", "v3 verifier 33"},
			wantRefund: 2,
		},
		{
			rule:    "a misclaimed job still scores and pays its verifiers, but its miner's share is refunded",
			configs: 1, folds: 2, fee: 1_000,
			jobs:       []closingJob{misclaimed("m1", 900_000, "v1", "v2"), settled("m2", 900_000, "v1", "v2")},
			wantScores: []types.ConfigScore{score(0, true, 2, 900_000, 0)},
			wantBest:   0,
			wantPays:   []string{"v1 verifier 100", "v2 verifier 100", "m2 miner 400"},
			wantRefund: 400,
		},
		{
			rule:    "an unsettled job (expired, failed) earns nothing and leaves its configuration incomplete: no best configuration",
			configs: 1, folds: 2, fee: 1_000,
			jobs:       []closingJob{settled("m1", 900_000, "v1"), unsettled},
			wantScores: []types.ConfigScore{score(0, false, 1, 900_000, 0)},
			wantBest:   -1,
			wantPays:   []string{"m1 miner 400", "v1 verifier 100"},
			wantRefund: 500,
		},
		{
			rule:    "a settled job without a reporter on the verified model pays no verifier; the verifiers' part is refunded",
			configs: 1, folds: 2, fee: 1_000,
			jobs:       []closingJob{settled("m1", 900_000), settled("m1", 900_000)},
			wantScores: []types.ConfigScore{score(0, true, 2, 900_000, 0)},
			wantBest:   0,
			wantPays:   []string{"m1 miner 800"},
			wantRefund: 200,
		},
		{
			rule:    "the best is the complete configuration with the highest mean; an incomplete one never is, whatever its mean",
			configs: 3, folds: 2, fee: 6_000,
			jobs: []closingJob{
				settled("m1", 800_000, "v1"), settled("m1", 800_001, "v1"),
				settled("m1", 900_000, "v1"), settled("m1", 900_000, "v1"),
				settled("m1", 990_000, "v1"), unsettled,
			},
			wantScores: []types.ConfigScore{score(0, true, 2, 800_000, 0), score(1, true, 2, 900_000, 0), score(2, false, 1, 990_000, 0)},
			wantBest:   1,
			wantPays:   []string{"m1 miner 4000", "v1 verifier 1000"},
			wantRefund: 1_000,
		},
		{
			rule:    "equal means: the best is the lower index",
			configs: 2, folds: 2, fee: 4_000,
			jobs:       []closingJob{settled("m1", 900_000, "v1"), settled("m1", 900_000, "v1"), settled("m2", 900_000, "v1"), settled("m2", 900_000, "v1")},
			wantScores: []types.ConfigScore{score(0, true, 2, 900_000, 0), score(1, true, 2, 900_000, 0)},
			wantBest:   0,
			wantPays:   []string{"m1 miner 1600", "v1 verifier 800", "m2 miner 1600"},
			wantRefund: 0,
		},
		{
			rule:    "a share that rounds down to zero pays nobody and is refunded",
			configs: 1, folds: 2, fee: 2,
			jobs:       []closingJob{settled("m1", 900_000, "v1", "v2", "v3"), settled("m1", 900_000, "v1", "v2", "v3")},
			wantScores: []types.ConfigScore{score(0, true, 2, 900_000, 0)},
			wantBest:   0,
			wantRefund: 2,
		},
		{
			rule:    "nothing settled: everything is refunded and the task has no best",
			configs: 1, folds: 2, fee: 1_000,
			jobs:       []closingJob{unsettled, unsettled},
			wantScores: []types.ConfigScore{score(0, false, 0, 0, 0)},
			wantBest:   -1,
			wantRefund: 1_000,
		},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			fee := sdkmath.NewInt(tc.fee)
			d := decidePayout(payoutInputs{Jobs: tc.jobs, Configs: tc.configs, Folds: tc.folds, JobsTotal: tc.configs * tc.folds, Fee: fee, Escrow: fee, MinerFeeBps: p.MinerFeeBps})
			if !reflect.DeepEqual(d.Scores, tc.wantScores) {
				t.Fatalf("scores\n got  %+v\n want %+v", d.Scores, tc.wantScores)
			}
			if best := int(d.BestConfig); !d.HasBest {
				if tc.wantBest != -1 {
					t.Fatalf("no best, want config %d", tc.wantBest)
				}
			} else if best != tc.wantBest {
				t.Fatalf("best config %d, want %d", best, tc.wantBest)
			}
			var pays []string
			total := sdkmath.ZeroInt()
			for _, py := range d.Pays {
				pays = append(pays, py.addr+" "+py.role+" "+py.amount.String())
				total = total.Add(py.amount)
			}
			if !reflect.DeepEqual(pays, tc.wantPays) {
				t.Fatalf("pays %q, want %q", pays, tc.wantPays)
			}
			if !d.Paid.Equal(total) || !d.Refund.Equal(sdkmath.NewInt(tc.wantRefund)) || !d.Paid.Add(d.Refund).Equal(fee) {
				t.Fatalf("paid %s, refund %s; want paid %s, refund %d, summing to the fee %s", d.Paid, d.Refund, total, tc.wantRefund, fee)
			}
		})
	}
}
