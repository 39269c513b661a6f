// Package worker is the code the two worker daemons (package miner and
// package verifier) share, so that neither imports the other:
//
//   - Config: the fields both daemons are configured with (poll period,
//     libp2p peer id and addresses, declared devices, state directory,
//     logger), embedded in miner.Config and verifier.Config, and the
//     placeholder identity of their DefaultConfigs.
//   - Chain, Tx and Client: what bonding needs from the chain, and the
//     adapter of a *chainclient.Client to the daemons' own Chain interfaces.
//   - EnsureBonded: register with the minimum bond, top it up, or
//     re-register a changed peer id, addresses or device list. The devices
//     declared are the machine's (DetectDevices: every GPU the CUDA backend
//     can use, else the CPU with its cores and RAM), not a placeholder.
//   - Datasets: the canonical dataset a chain record names, from a prepared
//     directory (DirDatasets), memory (MemDatasets) or the storage ring over
//     libp2p (P2PDatasets); every source checks the record's SHA-256.
//   - Retry: the one fetch-with-retry loop (attempts, a wait between them,
//     Permanent errors that end it at once, ctx).
//   - VerifyCheckpoint: the p2p.VerifyFunc of pouwd checkpoints
//     (ml.VerifyCheckpoint against a commitment key's two hashes).
//
// It must never hold protocol rules of its own (those are in jobspec, pouw
// and x/pouwml) and never import package miner or package verifier.
package worker
