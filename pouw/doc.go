// Package pouw holds the rules of the Proof-of-Useful-Work lottery that the
// chain (x/pouwml) and the off-chain miner and verifier must agree on bit
// for bit: the work digest of a training step, the number of tickets a step
// earns, the lottery draw, the win test against the target, and the
// difficulty retarget. Lihu et al., "A Proof of Useful Work for Artificial
// Intelligence on the Blockchain" (2020), adapted to a BFT chain where the
// lottery pays rewards instead of producing blocks.
//
// Everything here is a pure function over bytes and integers, with
// committed test vectors (testdata/vectors.json, recomputed independently
// by scripts/pouw_vectors.py). It must never import the Cosmos SDK, the
// training engine or the network, never use floats, map iteration or time,
// and never hash protobuf encodings: every input is encoded here,
// explicitly, integers big-endian.
//
// # Version 2: bind each step cheaply, the full state at commitments
//
// Version 1 (WorkDigest, TicketValue) hashed every weight and gradient at
// every step (8 bytes per parameter): more than the training step itself
// for a small model, and a copy of every tensor to the host per step on a
// GPU. Version 2 splits the binding in two.
//
// At a commitment (every commit_interval steps c, on chain) the miner
// commits the state hashes of its weights W_c and optimizer state O_c:
// pouw/statehash, a BLAKE3 tree whose 1 MiB leaves are hashed on every
// idle core or on the GPU where the tensors live. Their CommitLink L_c
// starts a hash chain:
//
//	prev_c  = L_c = SHA-256("pouw/v2/link" | H(W_c) | H(O_c))
//	P_i     = SamplePositions(prev_i): 64 positions in W, 64 in G
//	d_i     = SHA-256("pouw/v2" | job | miner | i | prev_i | H(B_i)
//	                  | GradSample(loss_i, G_i[P_i]) | WeightSample(W_{i+1}[P_i]))
//	prev_i+1 = d_i
//
// A step costs four SHA-256 calls over about a kilobyte and 128 reads of
// tensors in place, whatever the model's size. The lottery draws once per
// step (Lottery): v = SHA-256("pouw/v2/ticket" | d_i | A), where A is the
// hash of the block after the commitment's; ticket j = floor(v/target)
// wins when j is below the step's ticket count, so a step's chance is
// tickets x target / 2^256, as with v1's tickets, at the cost of one hash.
//
// # Security argument
//
// What stays as in v1. A proof's digest binds the miner's address, so a
// copied proof has other tickets. The anchor A is the hash of a block
// after the commitment's, unknown when the miner commits, so nothing the
// miner fixes at the commitment can be ground against it. Verification
// replays from the committed checkpoint (fetched and checked against both
// committed state hashes) to the proven step, recomputing every digest of
// the chain, and compares prev, H(B_i), both samples and d_i exactly; any
// difference rejects the proof and slashes the miner's bond. The chain
// itself checks that a proof of the commitment's own step starts from
// L_c, and that commitments extend each other by exactly commit_interval.
//
// What a cheating miner could skip. The digest of step i needs the exact
// loss of step i, 64 exact gradient values and 64 exact weights after the
// optimizer. Those exist only after the forward pass over the whole
// batch; each gradient position needs the backward pass down to its
// layer. Positions come from prev_i = d_{i-1}, so they are unknown until
// step i-1 is done, and step i+1 needs all of W_{i+1} (every output of a
// dense or convolutional layer depends on every weight of the layer
// before), so the honest step cannot be replaced by computing the 128
// sampled values alone for more than the last step of a run. The most a
// miner can save is therefore part of one backward pass per job (for the
// MLP 784-128-10, the first layer's weight-gradient GEMM of its final
// step: under a third of one step), which buys that one step's tickets:
// the bound is one step's tickets per job, the same chance an honest
// miner's final step has. Inventing the sampled values costs nothing but
// produces a digest that the replay rejects, and every winning proof is
// replayed. Between two commitments a wrong step (a bug or a shortcut)
// changes d_i and, through prev, every later digest of the interval: a
// verifier replaying any proof of the interval after it sees the first
// part that differs, and the next commitment's full hash no longer
// matches a replay either.
//
// Grinding. The batch order comes from the task's seed on chain, the
// initial weights from the job's seed, and each step is a deterministic
// function of the committed state, so the chain of digests after a
// commitment has exactly one value per step: there is no batch order,
// seed or skip to choose between once the state is committed. Before
// committing, the miner may choose the state it commits (a perturbed W_c,
// a different O_c), but it must post the commitment before A exists, so
// every choice is blind; after A is known the state is bound. The only
// lever is training more steps (one draw each), which is the useful work
// the tickets pay for. A miner cannot commit twice at a step (one
// commitment per step, extending the previous one by commit_interval), so
// it cannot buy a second anchor for the same steps; a proof names the
// step's one commitment, and a digest already proven is refused.
// Precomputing is bounded the same way: positions and the loss depend on
// prev, which depends on W_c, which is fixed only at the commitment.
//
// Cost of honesty versus cheating, in one line: producing d_i requires the
// data that the honest step produces (the loss, exact gradient and weight
// values that depend on all of W_i and the batch) and that the next step
// needs in full, so a digest costs at least a step's training, and the
// protocol adds to it four short hashes and a full state hash every
// commit_interval steps.
package pouw
