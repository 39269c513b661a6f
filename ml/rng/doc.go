// Package rng holds the numpy-compatible MT19937 generator that ml/cv
// (fold assignment) and ml/data (dataset splits) both draw from. It is a
// leaf: it imports nothing of pouwd, so the data layer does not depend on
// the cross-validation engine for its shuffles.
//
// Invariant: MT19937, Shuffle and Permutation reproduce
// numpy.random.RandomState(seed) (and so scikit-learn's KFold /
// StratifiedKFold with random_state=seed) bit for bit; a change to them
// changes every fold and split already on chain. The engine's own
// SplitMix64 stream (ml.RNG: weight init, batch order, dropout) is a
// different generator and stays in package ml.
package rng
