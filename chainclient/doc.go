// Package chainclient is how the miner and verifier daemons talk to a pouwd
// node: it signs Msgs with a keyring key, tracks the account's sequence
// locally (so several txs can be in flight without waiting for blocks),
// broadcasts, waits for inclusion, and retries what is worth retrying
// (sequence mismatch: re-read the account; out of gas: more gas; mempool
// full: back off) with a log line for each retry. Queries go through
// Query (x/pouwml's gRPC query client over the same connection).
//
// It never retries a tx whose Msgs the chain refused for their content (a
// failed simulation or a non-zero DeliverTx code other than out of gas):
// those come back as errors wrapping ErrTxFailed with the chain's log.
package chainclient
