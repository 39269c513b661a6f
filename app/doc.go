// Package app wires the pouwd application: a hand-wired (no depinject)
// Cosmos SDK app, PouwApp, with auth, bank, staking, slashing,
// distribution, mint, gov, consensus, upgrade and genutil, plus the
// x/pouwml module that records datasets, ML training tasks, CV jobs,
// workers and results.
//
// Decisions written down here so the next person sees them:
//   - Bech32 prefix "pouw" (accounts pouw1..., validators pouwvaloper1...),
//     default bond denom "upouw"; both set once in this package's init so
//     the CLI, tests and genesis defaults agree.
//   - The app never imports the training engine (ml/, accel/) or p2p/:
//     consensus code stays deterministic and small.
//   - The default genesis keeps 300 blocks of x/staking's historical info
//     (DefaultHistoricalEntries, staking_genesis.go): no IBC reads more.
//   - No x/params, x/crisis or x/protocolpool (removed or deprecated in
//     SDK v0.55); module invariants are exposed through CheckInvariants for
//     tests instead of a crisis module.
package app
