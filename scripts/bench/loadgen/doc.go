// Command loadgen is pouwd's chain load generator (scripts/bench/chain.sh).
//
// It derives many accounts deterministically from a seed, funds them from a
// funder mnemonic with MultiSend txs, then for a fixed duration signs and
// broadcasts cheap transactions from all of them at a target rate, each
// account pinned to one node and with its sequence tracked locally (two txs
// from one key in one block fail unless the client tracks sequences).
// Afterwards it reads the blocks of the measured window and reports
// committed tx/s, mean block time and rejections (CheckTx and DeliverTx).
//
// Messages (-msg):
//
//	register-worker  x/pouwml MsgRegisterWorker: the first tx of an account
//	                 bonds it as a storage worker with the minimum bond, the
//	                 following ones top the bond up by the smallest amount
//	bank-send        x/bank MsgSend of the smallest amount to the next account
//
// It is a benchmark tool, not part of the node.
package main
