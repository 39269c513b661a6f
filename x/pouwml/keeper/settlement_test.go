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
