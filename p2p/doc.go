// Package p2p moves datasets, checkpoints and models between pouwd nodes
// over libp2p (DESIGN.md section 5).
//
//   - Host: a libp2p host (TCP and QUIC, 127.0.0.1 by default) whose Ed25519
//     identity lives in <home>/p2p/identity.key (0600), with a resource
//     manager built from explicit limits (HostConfig.Limits) and peers taken
//     from the storage workers registered on chain (AddWorkerAddrs), plus
//     optional bootstrap peers dialled with retry and backoff.
//   - Protocols, scoped by chain id: /pouw/<chain-id>/shard/1.0.0 (get or put
//     one shard by dataset id and index), /pouw/<chain-id>/ckpt/1.0.0 (a
//     checkpoint by task, job and weights hash), /pouw/<chain-id>/model/1.0.0
//     (a model by hash). One varint-delimited request (protobuf wire format,
//     see wire.go for the fields), then one varint-delimited Response header
//     and its raw payload. Every stream has a deadline and is reset when its
//     context ends, every read is capped (requests 256 bytes, headers 512,
//     payloads by the size the trusted record allows), handlers run under a
//     recovery wrapper and a per-peer token bucket, streams Close on
//     success and Reset on error. Memory for payloads is reserved in the
//     resource manager's "pouw.data" service scope.
//   - Trust: a receiver checks everything against a hash it already holds —
//     shard hashes from the dataset record on chain, the dataset SHA-256
//     after rebuilding, the weights or model hash it asked for — and records
//     the peer that sent anything else (Service.Faults, FetchReport.Faults).
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
//     dropped and healed). A shard is hashed before its first serving and
//     on every receipt; between syncs a copy damaged on disk may be served,
//     which receivers catch and report.
//
// The package must never sit in consensus code (x/pouwml does not import
// it), never trust bytes it has not hashed, never allocate from a length a
// peer announced without checking it against a cap first, and never block
// without a deadline.
package p2p
