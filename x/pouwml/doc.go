// Package pouwml is the Cosmos SDK module of the pouwd chain: it records
// datasets, training tasks expanded into K-fold cross-validation jobs,
// bonded workers (miners, verifiers, storage peers), miners' results and
// verifiers' evaluations, and settles them: the verified metric of a job is
// the median of its verifiers' measurements, fees are paid from escrow,
// lying or absent workers are slashed.
//
// The state machine lives in keeper/ (collections state, Msg and Query
// servers, Begin/EndBlocker queues), the types and rules in types/, the
// wire format in proto/pouwml/v1. See README.md beside this file for the
// full specification of state, Msgs, events and params.
//
// It must never import the training engine, the network layer or anything
// non-deterministic: no floats, no map iteration, no wall-clock time.
package pouwml
