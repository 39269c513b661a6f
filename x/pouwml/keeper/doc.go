// Package keeper is the x/pouwml state machine: the collections state, the
// Msg and Query servers, genesis import and export, the escrow invariant and
// the Begin/EndBlock work. Its rules are specified in x/pouwml/README.md;
// docs/ARCHITECTURE.md places the module in the chain.
//
// Files follow the module's domains; each holds that domain's Msg handlers,
// state helpers and per-block step: workers.go (bonds, unbonding, slashing,
// jailing), datasets.go, tasks.go (escrow, fold seed, status), jobs.go
// (claim, result, evaluations, deadlines), proofs.go (checkpoints, proofs,
// verdicts), lottery.go (the verifier pool and draws, the lottery's anchors
// and target) and settlement.go (what a job's reports or a proof's verdicts
// decide, applying it, the payout when a task closes). keeper.go lays out
// the state, msg_server.go holds the Msg service and UpdateParams, abci.go
// orders the per-block steps.
//
// Invariants:
//   - The module account holds exactly the escrow of every open task plus
//     every worker's bond (EscrowInvariant). Coins move only through the
//     bank keeper, between accounts and the module accounts.
//   - A handler validates everything before its first write, so a rejected
//     Msg changes nothing.
//   - Settlement is decided by pure functions of plain values (decideJob,
//     decidePayout, decideProof); only the keeper methods that apply a
//     decision touch the store.
//   - Block hooks take at most a per-block limit of items from height-keyed
//     queues and run each in its own CacheContext: an item that fails is
//     logged and dropped, and the chain goes on.
//   - Keeper methods take a context.Context and unwrap the sdk.Context only
//     where they need the block.
//
// The keeper must never use floats, map iteration order or wall-clock time;
// must never panic in BeginBlock or EndBlock; and must never walk an
// unbounded set in one block: every loop is capped by a param or a
// per-block limit. metrics.go is outside these rules because it is outside
// consensus: its Prometheus collector reads committed state at scrape time
// through a query context, never in a block, and builds float64 samples.
package keeper
