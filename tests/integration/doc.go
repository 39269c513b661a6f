// Package integration runs pouwd on an in-process 4-validator network
// (cosmos-sdk testutil/network) and offers what end-to-end tests need:
// funded named accounts, broadcasting a list of Msgs from an account and
// waiting for the block that includes them, queries over validator 0.
//
// Use one network per test process, that is per Go test package: New
// cleans its network up with t.Cleanup, but a second network started in the
// same process after the first was seen to be hit by the first one's
// leftover CometBFT goroutines ("leveldb: closed"). Put each end-to-end
// scenario that needs a fresh chain in its own package under tests/, or
// share one network between the tests of a package (create it once, use
// distinct accounts). Only validator 0 serves RPC, gRPC and the API.
package integration
