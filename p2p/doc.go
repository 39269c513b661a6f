// Package p2p moves datasets, checkpoints and models between pouwd nodes
// over libp2p (docs/ARCHITECTURE.md).
//
//   - Host: a libp2p host (TCP and QUIC, 127.0.0.1 by default) whose Ed25519
//     identity lives in <home>/p2p/identity.key (0600), with a resource
//     manager built from explicit limits (HostConfig.Limits) and peers taken
//     from the storage workers registered on chain (AddWorkerAddrs), plus
//     optional bootstrap peers dialled with retry and backoff.
//   - Protocols, scoped by chain id: /pouw/<chain-id>/shard/1.0.0 (get or put
//     one shard by dataset id and index), /pouw/<chain-id>/ckpt/1.0.0 (a
//     checkpoint by task, job, weights hash and optimizer hash: a chain
//     commitment), /pouw/<chain-id>/model/1.0.0 (a model by the SHA-256 of
//     its bytes). One varint-delimited request (protobuf wire format,
//     see wire.go for the fields), then one varint-delimited Response header
//     and its raw payload. Every stream is bounded by silence, not length:
//     a request and a reply header must come within StreamTimeout, and a
//     payload moves in PayloadChunk (4 MiB) pieces, each within
//     StreamTimeout (deadlines plus a watchdog that resets the stream), so
//     a multi-GB checkpoint may take minutes while it keeps moving; a
//     payload that stalls is an error, not a lie. Every read is capped
//     (requests 256 bytes, headers 512, payloads by the size the trusted
//     record allows), handlers run under a recovery wrapper and a per-peer
//     token bucket, streams Close on success and Reset on error. The
//     resource manager's "pouw.data" service scope holds at most one chunk
//     of a payload per stream; a server sends at most Config.BlobServes
//     checkpoints or models at once and refuses more as busy (IsBusy),
//     which fetchers wait out.
//   - Trust: a receiver checks everything against a hash it already holds —
//     shard hashes from the dataset record on chain, the dataset SHA-256
//     after rebuilding, the commitment's weights and optimizer hashes, the
//     model hash it asked for — and records the peer that sent anything else
//     (Service.Faults, FetchReport.Faults).
//   - Erasure coding (Coder): klauspost/reedsolomon, k data + m parity
//     shards of ceil(len/k) bytes (defaults 10+4), the original length kept,
//     one SHA-256 per shard and types.MerkleRoot over them, exactly as
//     MsgRegisterDataset records them; encoders are cached per (k, m); only
//     verified shards are fed to reconstruction and the result is hashed
//     again.
//   - Placement (Ring): consistent hashing with virtual nodes and bounded
//     loads over the bonded storage workers, a pure function of chain state;
//     each shard goes to RingConfig.Replicas distinct peers (default 2).
//   - Fetching (Service.FetchDataset): any k shards in parallel, data shards
//     first; every candidate peer is dialled at once and connected peers are
//     asked first; a shard still pending after FetchOptions.Hedge, or
//     failing everywhere, starts the next index; dials rank TCP before QUIC
//     (QUIC moves about a third of TCP's bytes per CPU second here).
//   - StoragePeer: the `pouwd data serve` loop that keeps every shard the
//     ring places on this peer, fetching or rebuilding it when the ring
//     changes, and re-hashing its own copies each round (a damaged copy is
//     dropped and healed); a copy the ring moved to other peers is dropped
//     once every peer now placed has served it (StoragePeer.release). A shard is hashed before its first serving and
//     on every receipt; between syncs a copy damaged on disk may be served,
//     which receivers catch and report.
//
// # Checkpoints and models (miners and verifiers)
//
// A miner commits, every commit_interval steps, the canonical hashes of its
// checkpoint: ml.WeightsHash of the model and ml.OptimizerHash of the
// optimizer state (MsgCommitCheckpoint). Those, not the file's SHA-256, are
// what a verifier knows, so checkpoints are named by CkptKey (task, job,
// weights hash, optimizer hash; CommitmentKey builds it from a chain
// Commitment) on the wire, in the Store and in the fetcher. p2p does not
// know the checkpoint format (it does not import the engine): whoever
// stores or fetches one passes a VerifyFunc, which for pouwd checkpoints is
// worker.VerifyCheckpoint (ml.VerifyCheckpoint against the key's hashes).
//
//   - Store.PutCheckpoint(key, b, verify) stores b only when verify accepts
//     it; otherwise *MismatchError. Store.PutModel(b) stores a model under
//     its SHA-256 (the model hash of MsgSubmitResult).
//   - The server trusts what its store verified: before serving it checks
//     only the checkpoint's own SHA-256 trailer (damage on disk, which it
//     drops), not a full re-parse per request; a request whose optimizer
//     hash differs from the stored one is "not found".
//   - Service.GetCheckpoint / FetchCheckpoint verify in full what arrives
//     (the VerifyFunc, on at most max bytes or Config.MaxBlobSize) and
//     return the bytes and what the VerifyFunc parsed (an *ml.Checkpoint).
//     A peer serving other weights, other optimizer state or bytes that are
//     not a valid checkpoint is reported and returned as a *MismatchError
//     naming the peer and wrapping the VerifyFunc's error (errors.Is
//     ErrMismatch and ErrLyingPeer; with ml.VerifyCheckpoint, an
//     *ml.CheckpointMismatchError with the committed and the served hashes,
//     or ml.ErrCheckpoint when the bytes do not parse).
//   - A miner's host serves only these two protocols: NewService(h,
//     BlobConfig(chainID), store, nil) needs no dataset records, ring,
//     storage role or bond, and does not offer the shard protocol. A
//     verifier puts the miner's registered multiaddrs in its peerstore
//     (AddWorkerAddrs with the miner's Worker record) and fetches with any
//     Service (it needs no store to fetch).
//   - Store.PutOwnCheckpoint stores without decoding: for a miner's own
//     commitment checkpoints (encoded from the state it just hashed) and
//     for attack tests, where a test miner serves a checkpoint that is not
//     the one it committed.
//
// The package must never sit in consensus code (x/pouwml does not import
// it), never import the training engine (ml), never trust bytes it has not hashed, never allocate from a length a
// peer announced without checking it against a cap first, and never block
// without a deadline.
package p2p
