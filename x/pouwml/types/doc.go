// Package types holds the x/pouwml state types (generated from
// proto/pouwml/v1), their validation, the module's registered errors, event
// types, collection prefixes and the small pure functions that the chain and
// the off-chain miner, verifier and storage code must agree on bit for bit
// (the shard Merkle root, the CV statistics).
//
// From this module it imports only pouw (the work-proof rules). It must
// never import the training engine (ml, accel) or the network (p2p),
// and never use floats, map iteration order or wall-clock time: everything
// here runs inside consensus.
package types
