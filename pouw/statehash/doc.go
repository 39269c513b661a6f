// Package statehash is the version 2 hash of a model's full state (its
// weights and buffers, or its optimizer state) that a miner commits on
// chain every commit interval and a verifier checks a served checkpoint
// against: a two-level tree over BLAKE3-256, built so that the bulk of the
// work runs in parallel and where the tensors live.
//
//	leaf      = BLAKE3(data[k*LeafBytes : (k+1)*LeafBytes])     (1 MiB leaves)
//	tensor    = BLAKE3("pouw/v2/tensor" | name | shape | bytes | leaves)
//	state     = BLAKE3(domain | count | tensors)
//
// Leaves are hashed on every core the caller allows (Sum) or on a GPU
// (accel/cuda hashes leaves on device memory), and only the 32-byte leaf
// hashes are combined on the host. The protocol around it (the commitment
// link, the per-step samples, the security argument) is in package pouw;
// the layout is cross-checked by scripts/pouw_vectors.py.
//
// It must never depend on the engine, the chain or the network: consensus
// code does not hash states, and the engine and devices import this
// package, not the other way round.
package statehash
