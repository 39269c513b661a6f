// Package workertest holds in-memory fakes of what the worker daemons talk
// to, for the unit tests of packages miner, verifier and worker: a Chain
// (the x/pouwml queries the daemons make and a Broadcast that applies the
// few state changes they read back, with injectable failures), a Store (a
// miner's checkpoints and models) and a Fetcher (a verifier's view of a
// miner's store, checking checkpoints as p2p does), plus Tiny, a task
// small enough to train with the real engine in milliseconds.
//
// It must never fake the engine: tests train, replay and measure with the
// real one, so the hashes they compare are the protocol's. It touches no
// network and no disk.
package workertest
