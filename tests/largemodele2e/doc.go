// Package largemodele2e runs the Proof-of-Useful-Work protocol on the
// model families beyond the MLP, on the in-process 4-validator network
// (tests/integration; one network for this package): a causal next-byte
// Transformer on a byte-level text dataset (testdata/garden.txt, cut by
// ml/data's text source, registered as DATASET_FORMAT_TEXT and published
// as Reed-Solomon shards to storage peers, from which the miner and the
// verifiers fetch it over libp2p) and a basic-block ResNet on an MNIST
// subset, one configuration x 2 folds each. Real miner and verifier
// daemons train, commit, draw the lottery, replay the winning steps from
// the committed checkpoints (version 2 digests: values sampled in place in
// the residual and attention models' weights and gradients, Adam moments
// and momentum in the optimizer hash) and re-measure the models; the test
// checks that both tasks complete with their CV tables, every proof is
// accepted, the miners and verifiers are paid to the unit and nobody is
// slashed. It also checks that the README's submit-task examples for these
// models parse as autocli parses them and are the configurations run here.
//
// testdata/garden.txt was written for these tests and is dedicated to the
// public domain, so the test never depends on a file of the host system.
package largemodele2e
