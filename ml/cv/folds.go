package cv

import (
	"errors"
	"fmt"
	"sort"
)

// ErrFolds is returned (wrapped) when a fold rule cannot be applied to the
// given samples.
var ErrFolds = errors.New("cv: invalid fold request")

// FoldSpec is the whole input of a fold rule besides the labels. Two
// parties with the same FoldSpec and labels get the same assignment.
type FoldSpec struct {
	K          int    // number of folds, >= 2
	Stratified bool   // StratifiedKFold instead of KFold
	Shuffle    bool   // shuffle with Seed (sklearn shuffle=True)
	Seed       uint32 // sklearn random_state; ignored unless Shuffle
}

// Validate checks the spec against a sample count.
func (s FoldSpec) Validate(n int) error {
	if s.K < 2 {
		return fmt.Errorf("%w: k=%d folds, expected at least 2", ErrFolds, s.K)
	}
	if s.K > n {
		return fmt.Errorf("%w: k=%d folds is more than the %d samples", ErrFolds, s.K, n)
	}
	return nil
}

// Assign returns the test fold of every sample (0..K-1), given n samples
// and, for stratified folds, their labels (len(labels) == n). It is the
// pure fold rule of the protocol: integers in, integers out, no floats.
// Samples are identified by their position 0..n-1.
func Assign(spec FoldSpec, n int, labels []int) ([]int, error) {
	if spec.Stratified {
		if len(labels) != n {
			return nil, fmt.Errorf("%w: %d labels for %d samples, expected one per sample", ErrFolds, len(labels), n)
		}
		return StratifiedKFold(labels, spec.K, spec.Shuffle, spec.Seed)
	}
	return KFold(n, spec.K, spec.Shuffle, spec.Seed)
}

// KFold reproduces sklearn.model_selection.KFold(n_splits=k, shuffle,
// random_state=seed).split: the (optionally shuffled) indices 0..n-1 are cut
// into k consecutive chunks, the first n%k of size n/k+1 and the rest of size
// n/k. It returns the test fold of each sample.
func KFold(n, k int, shuffle bool, seed uint32) ([]int, error) {
	if err := (FoldSpec{K: k}).Validate(n); err != nil {
		return nil, err
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if shuffle {
		Shuffle(NewMT19937(seed), idx)
	}
	fold := make([]int, n)
	pos := 0
	for f := 0; f < k; f++ {
		size := n / k
		if f < n%k {
			size++
		}
		for _, i := range idx[pos : pos+size] {
			fold[i] = f
		}
		pos += size
	}
	return fold, nil
}

// StratifiedKFold reproduces sklearn.model_selection.StratifiedKFold
// (scikit-learn >= 0.22) with n_splits=k: classes are encoded in order of
// first appearance; the label-sorted sample list is dealt round robin to the
// folds to fix how many samples of each class each fold gets (so every
// fold's share of a class is within one sample of exact); within a class the
// samples, in index order, receive the fold ids 0,0,..,1,1,.. (shuffled by
// one shared generator, class by class, when shuffle is set).
// Like sklearn it fails when k exceeds every class's count.
func StratifiedKFold(labels []int, k int, shuffle bool, seed uint32) ([]int, error) {
	n := len(labels)
	if err := (FoldSpec{K: k}).Validate(n); err != nil {
		return nil, err
	}
	enc, counts := encodeByFirstAppearance(labels)
	maxCount := 0
	for _, c := range counts {
		if c > maxCount {
			maxCount = c
		}
	}
	if k > maxCount {
		return nil, fmt.Errorf("%w: k=%d folds is more than the number of members in each class (largest class has %d)", ErrFolds, k, maxCount)
	}
	nc := len(counts)
	// y_order = sorted encoded labels; allocation[f][c] = count of class c
	// among y_order[f::k].
	alloc := make([][]int, k)
	for f := range alloc {
		alloc[f] = make([]int, nc)
	}
	pos := 0
	for c := 0; c < nc; c++ {
		for j := 0; j < counts[c]; j++ {
			alloc[pos%k][c]++
			pos++
		}
	}
	var rng *MT19937
	if shuffle {
		rng = NewMT19937(seed)
	}
	// members of each class in index order
	members := make([][]int, nc)
	for i, c := range enc {
		members[c] = append(members[c], i)
	}
	fold := make([]int, n)
	for c := 0; c < nc; c++ {
		ff := make([]int, 0, counts[c])
		for f := 0; f < k; f++ {
			for j := 0; j < alloc[f][c]; j++ {
				ff = append(ff, f)
			}
		}
		if rng != nil {
			Shuffle(rng, ff)
		}
		for j, i := range members[c] {
			fold[i] = ff[j]
		}
	}
	return fold, nil
}

// encodeByFirstAppearance maps labels to 0..C-1 in order of first
// appearance, as sklearn's StratifiedKFold does, and returns the counts.
func encodeByFirstAppearance(labels []int) ([]int, []int) {
	// sort distinct labels (np.unique), then order them by first index
	first := map[int]int{}
	for i, l := range labels {
		if _, ok := first[l]; !ok {
			first[l] = i
		}
	}
	distinct := make([]int, 0, len(first))
	for l := range first {
		distinct = append(distinct, l)
	}
	sort.Slice(distinct, func(a, b int) bool { return first[distinct[a]] < first[distinct[b]] })
	code := make(map[int]int, len(distinct))
	for c, l := range distinct {
		code[l] = c
	}
	enc := make([]int, len(labels))
	counts := make([]int, len(distinct))
	for i, l := range labels {
		enc[i] = code[l]
		counts[enc[i]]++
	}
	return enc, counts
}

// Split returns the train and test indices (ascending) of fold f.
func Split(fold []int, f int) (train, test []int) {
	for i, g := range fold {
		if g == f {
			test = append(test, i)
		} else {
			train = append(train, i)
		}
	}
	return train, test
}
