// Package cv is pouwd's model-selection layer: the K-fold rules (KFold and
// StratifiedKFold, identical to scikit-learn's for the same seed, with test
// vectors from scikit-learn in testdata), the classification metrics (in
// float64 for people and as fixed-point ppm integers for the chain), typed
// hyperparameter grids over several architectures, a cross-validation
// runner, model comparison (ranking, parameter count, time, efficiency) and
// soft/hard voting ensembles of the fold models.
//
// The fold rules (Assign, KFold, StratifiedKFold, Permutation, TaskFolds)
// and the ppm metrics are the part that every miner and every verifier
// share, so they are protocol: pure functions of integers (sample count,
// labels, K, seed) with no floats, no maps whose order reaches the result,
// no clock and no global state. Their exact definitions are in
// docs/PROTOCOL.md ("Folds and metrics"). On a prepared dataset the fold
// positions 0..n-1 are the samples of data.CVPool, with their labels.
//
// The runner trains through the small Trainer/Model interfaces declared
// here, so this package never imports the training engine, the data layer,
// cgo or the chain module; adapters live in ml/cv/engine.
package cv
