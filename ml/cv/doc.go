// Package cv is pouwd's model-selection layer: the K-fold rules (KFold and
// StratifiedKFold, identical to scikit-learn's for the same seed), the
// classification metrics (in float64 for people and as fixed-point ppm
// integers for the chain), typed hyperparameter grids over several
// architectures, a cross-validation runner, model comparison (ranking,
// parameter count, time, efficiency) and soft/hard voting ensembles of the
// fold models.
//
// The fold rules (Assign, KFold, StratifiedKFold, Permutation) and the ppm
// metrics are the part the chain's job expansion, every miner and every
// verifier share: they are pure functions of integers (sample count,
// labels, K, seed) with no floats, no maps whose order reaches the result,
// no clock and no global state. The runner trains through the small
// Trainer/Model interfaces declared here, so this package never imports the
// training engine, the data layer, cgo or the chain module; adapters live in
// ml/cv/engine.
//
// # Fold rule
//
// KFold(n, k, shuffle, seed): the indices 0..n-1, shuffled (when shuffle is
// set) exactly like numpy.random.RandomState(seed).shuffle (MT19937 with
// init_genrand, legacy masked-rejection bounded integers, Fisher-Yates from
// the end), are cut into k consecutive folds, the first n mod k of size
// floor(n/k)+1. StratifiedKFold follows scikit-learn >= 0.22 (see its doc).
// Test vectors produced by scikit-learn 1.2.1 are in testdata.
//
// On a prepared dataset the fold positions 0..n-1 are the samples of
// data.CVPool (every non-test sample, ascending index), and the labels are
// theirs.
//
// # Metrics in ppm
//
// accuracy_ppm = floor(10^6 * correct / n). Per class c with true positives
// tp, false positives fp and false negatives fn: precision_ppm =
// floor(10^6*tp/(tp+fp)), recall_ppm = floor(10^6*tp/(tp+fn)), f1_ppm =
// floor(10^6*2tp/(2tp+fp+fn)), each 0 when its denominator is 0 (scikit-
// learn's zero_division=0). Macro averages run, as in scikit-learn, over the
// classes present in the true or the predicted labels, and are computed
// exactly: macro_ppm = floor(10^6 * (sum of the exact per-class fractions) /
// number of classes). Fold means and standard deviations in ppm are
// floor(sum/K) and floor(sqrt(population variance)) of the per-fold ppm
// integers, computed exactly.
package cv
