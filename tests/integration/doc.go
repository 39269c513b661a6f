// Package integration runs pouwd on an in-process 4-validator network
// (cosmos-sdk testutil/network) and offers what end-to-end tests need:
// funded named accounts, broadcasting a list of Msgs from an account and
// waiting for the block that includes them, queries over validator 0.
//
// Use one network per test process, that is per Go test package: the
// network is not stopped when its test ends but runs until the process
// exits, because stopping a CometBFT node races with its consensus
// reactor's goroutines, which read the closed block store and panic
// ("leveldb: closed") after the tests passed; the SDK's network also holds a
// process-wide lock until it is cleaned up. Put each end-to-end
// scenario that needs a fresh chain in its own package under tests/, or
// share one network between the tests of a package (create it once, use
// distinct accounts). Only validator 0 serves RPC, gRPC and the API.
package integration
