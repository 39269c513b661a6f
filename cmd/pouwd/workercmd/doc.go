// Package workercmd holds the `pouwd miner start` and `pouwd verifier
// start` commands: they build a chainclient from the usual tx flags
// (--from, --node, --chain-id, --keyring-backend, --gas-prices), a CPU
// backend (--device auto|cpu|gpu:N: the CUDA backend in a build with the
// cuda tag, else the CPU, saying why; a miner also takes gpu:all or
// gpu:N,M,...: a job with micro-batches trains resident on all of them,
// devtrain.PlaceDevices, one without on the first) and a libp2p host (identity under
// <home>/p2p/identity.key, --p2p-listen; its peer id and addresses are
// registered with the bond, and re-registered when they change), and run
// the daemon until interrupted, with a status line and, with
// --metrics-addr, package monitor's /metrics and /healthz (metrics.go):
// the system, process and GPU series, the daemon's pouw_miner_* or
// pouw_verifier_* series, and the alerts (disk space, memory pressure,
// GPU, chain_unreachable, and the miner's no_progress, --alert-no-progress).
// The miner's chain client also reads settlement blocks' events
// (minerChain), so its rewards metric counts what each proof was paid.
//
// Datasets: from --data-dir when prepared there (`pouwd data prepare` or
// `pouwd data fetch`), else fetched over libp2p from the storage ring and
// kept in memory (worker.P2PDatasets). Checkpoints and models: a miner keeps
// them in its p2p store (--store, default <home>/pouw-store) and serves
// them with the p2p checkpoint and model protocols; a verifier fetches them
// from the miner's registered peer (verifier.P2PFetcher), verifying each
// against its commitment or hash. The daemons take interfaces for the chain
// (worker.NewClient wraps the chain client) and the store (a *p2p.Store);
// the devices declared with the bond are detected (worker.DetectDevices).
//
// It must never hold anything but its own key's signing rights.
package workercmd
