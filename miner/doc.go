// Package miner is the mining daemon (`pouwd miner start`): it bonds as a
// miner (worker.EnsureBonded), claims open jobs it can run within its
// memory budget, trains each with the engine exactly as package jobspec
// prescribes, commits the state hashes of its weights and optimizer state
// (pouw/statehash) at step 0 and every commit_interval steps, keeps (and
// serves, through its Store) the checkpoint behind every commitment, draws
// the lottery of every step against the commitment's anchor, submits the
// winning proofs, then measures the final model on the held-out fold and
// submits the result (model hash = SHA-256 of ml.SaveModel's bytes, fold
// metrics in ppm). The protocol is docs/PROTOCOL.md (version 2 work
// digest: package pouw); the daemons' place in the system is
// docs/ARCHITECTURE.md.
//
// One job is a job value worked in four phases by RunJob: prepare (dataset,
// spec, budget (memory.go): a job that will train resident on the GPUs
// Place is given checked against each GPU's budget with ml's device
// estimate and against the host's budget with what stays on the host
// (devtrain.ResidentEstimates and CheckResident, pouwd ml train's rule),
// any other with ml.EstimateTraining plus its data against the host's
// budget, with activation recomputation when only that fits; then the
// claim, or on resume the trainer rebuilt from the
// checkpoint of the last commitment and the earlier steps from the step
// journal), train, draw and submit. Training waits for neither the disk
// nor the chain: at a commitment the trainer hashes the state and encodes
// the checkpoint beside the step's forward and backward passes
// (ml.Trainer.StepCommitting; the hashes start the step digests' chain);
// a checkpointer seals and stores it
// and hands the commitment to a committer, which posts commitments in
// order (several in one tx when training is ahead); each owns its state
// and they talk over channels. Every step is sampled in place inside the
// trainer's hook (jobspec.DigestChain: a few hundred bytes, whatever the
// model's size) and journaled. The lottery (lottery) is a pure function of
// the steps' digest inputs, the anchor and the target.
// Proofs need a live claim, so every proof is submitted before the result.
//
// The daemon depends on interfaces it declares: Chain (its signer and the
// queries it makes; worker.NewClient adapts a chain client) and Store (a
// *p2p.Store). Checkpoints are stored under the commitment's key (task,
// job, weights hash, optimizer hash: both are on chain, so the optimizer
// state cannot be picked after the anchor is known); its own are stored as
// encoded from the hashed state (Store.PutOwnCheckpoint), and verified with
// worker.VerifyCheckpoint before they are resumed from.
//
// Metrics (metrics.go, the pouw_miner_* series of docs/MONITORING.md) read
// Stats at scrape time; the training loop adds to them with atomics, two
// clock reads and two histogram observations per step, nothing more.
// LastProgress feeds the no_progress alert. Rewards (rewards.go) are
// learnt by following the submitted proofs to their settlement: the exact
// amount from the settlement block's EventProofSettled when the chain
// client reads block events (BlockEvents), reward_per_proof otherwise.
//
// It must never submit a step it did not compute (except through the
// explicit Attack hooks, which exist only for tests), never reuse a
// digest, and never let a chain error stop other jobs.
package miner
