// Package verifier is the verifying daemon (`pouwd verifier start`): it
// bonds as a verifier (worker.EnsureBonded) and works what the chain
// assigns to it (docs/PROTOCOL.md).
//
//   - A proof (COMMITTING, this verifier among its verifiers): Check
//     rebuilds the job with package jobspec; takes W at the proof's
//     commitment (step 0: the seeded initial model, no fetch; later: the
//     miner's checkpoint fetched by the commitment's key, which must hash to
//     both committed hashes and be the job's spec, seed, config and
//     position); replays the steps commit_step..step with the engine,
//     chaining the version 2 step digests from the commitment's link
//     (jobspec.DigestChain, ReplayStep); and compares the previous link,
//     H(B_i), the gradient and weight samples, the digest (binding the
//     miner), the parameter count, the ticket count and the lottery value.
//     A proof of digest version 1 is an error, not a reject.
//     It returns a Verdict: accept only when everything matches, else a
//     reject with the recomputed digest (when it got that far) and the
//     reason. An error instead of a verdict means the proof could not be
//     judged yet (a chain query failed, no dataset, ctx ended) and is
//     retried. The verdict is committed (pouw.VerdictCommitment with 32
//     random salt bytes, kept under Config.StateDir so a restarted verifier
//     still reveals it) and revealed once the proof is REVEALING.
//   - A job result (ASSIGNED, this verifier among its verifiers): Measure
//     fetches the model by its hash, checks it is the job's architecture,
//     measures it on the held-out fold and submits the ppm metrics. A model
//     that cannot be fetched or parsed is reported under the zero hash,
//     which the chain counts against the miner.
//
// New proofs are discovered by id until the chain answers NotFound; any
// other query error ends the poll with that error and the next poll starts
// from the same id. Proof replays run on up to Config.Workers goroutines,
// admitted earliest commit deadline first (gate.go), and a proof whose
// commit window closed while it waited is not replayed; evaluations run on
// one more of their own (so a flood of proofs never starves results).
// Jobs are prepared through a jobspec.Preparer: the last two folds stay
// gathered, their training samples a view of the dataset. The daemon keeps
// its bond at min_worker_bond (worker.KeepBonded). The daemon depends on interfaces it declares: Chain (its
// signer and the queries it makes; worker.NewClient adapts a chain client)
// and Fetcher (P2PFetcher: from the miner's registered peer over libp2p).
//
// Metrics (metrics.go, the pouw_verifier_* series of docs/MONITORING.md)
// read Stats at scrape time and time each replay and each verdict from
// the assignment seen to its reveal.
//
// It must never accept a step it did not recompute, nor reveal a verdict
// other than the one it committed.
package verifier
