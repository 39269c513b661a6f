// Package pouw holds the rules of the Proof-of-Useful-Work lottery that the
// chain (x/pouwml) and the off-chain miner and verifier must agree on bit
// for bit: the work digest of a training step, the number of tickets a step
// earns, a ticket's lottery value, the win test against the target, and the
// difficulty retarget. Lihu et al., "A Proof of Useful Work for Artificial
// Intelligence on the Blockchain" (2020), adapted to a BFT chain where the
// lottery pays rewards instead of producing blocks.
//
// Everything here is a pure function over bytes and integers, with
// committed test vectors (testdata/vectors.json). It must never import the
// Cosmos SDK, the training engine or the network, never use floats, map
// iteration or time, and never hash protobuf encodings: every input is
// encoded here, explicitly, big-endian.
package pouw
