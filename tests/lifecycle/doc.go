// Package lifecycle runs a whole cross-validation task on the in-process
// 4-validator network. It is its own package because testutil/network runs
// one network per process reliably: a second network in the same process
// can be hit by the first one's CometBFT goroutines after cleanup.
package lifecycle
