//go:build !(cuda || cudaemu)

package devtrain

import (
	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
)

// Place attaches nothing in a build without the cuda tag: no backend is a
// CUDA device here.
func Place(accel.Backend, *ml.Trainer) (release func() error, note string, err error) {
	return nil, "", nil
}

// PlaceDevices attaches nothing either.
func PlaceDevices([]accel.Backend, *ml.Trainer) (release func() error, note string, err error) {
	return nil, "", nil
}

// gpuBudget: no backend is a GPU in a build without the cuda tag.
func gpuBudget(accel.Backend) (accel.Budget, bool) { return accel.Budget{}, false }
