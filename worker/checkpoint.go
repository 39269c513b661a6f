package worker

import (
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/p2p"
)

// VerifyCheckpoint is the p2p.VerifyFunc of pouwd checkpoints: b must be
// the checkpoint key's commitment names (ml.VerifyCheckpoint against both
// committed hashes); it returns the *ml.Checkpoint.
func VerifyCheckpoint(key p2p.CkptKey, b []byte) (any, error) {
	ck, err := ml.VerifyCheckpoint(b, key.WeightsHash, key.OptimizerHash)
	if err != nil {
		return nil, err // never a typed nil in the interface
	}
	return ck, nil
}

var _ p2p.VerifyFunc = VerifyCheckpoint
