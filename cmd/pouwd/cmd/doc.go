// Package cmd builds pouwd's root command: the SDK server commands (init,
// start, export, rollback, comet ...), genesis, keys, status, config, the
// tx and query trees (enhanced by autocli from the modules' gRPC services,
// x/pouwml included) and the engine's ml and data groups.
//
// It never contains chain logic: everything here is wiring to app/ and
// to the command packages of the other parts.
package cmd
