// Package keeper holds the x/pouwml state (cosmossdk.io/collections), the
// Msg and Query servers, genesis import/export, the escrow invariant and
// the Begin/EndBlocker queue processing.
//
// Rules that hold everywhere here: a handler validates everything before
// its first write, so a rejected Msg changes nothing; coins move only
// between accounts and the module account through the bank keeper; block
// hooks take a bounded number of items per block from height-keyed queues
// and run each in its own CacheContext; nothing uses floats, map iteration
// order or wall-clock time.
package keeper
