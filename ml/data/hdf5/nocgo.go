//go:build !cgo || nohdf5

package hdf5

import (
	"errors"
	"fmt"

	"github.com/pouw/pouwd/ml/data"
)

// Available reports whether this build can read HDF5 files.
const Available = false

// ErrHDF5 wraps every error of this package.
var ErrHDF5 = errors.New("hdf5")

// Load needs cgo and libhdf5; this build has neither (CGO_ENABLED=0 or the
// nohdf5 build tag).
func Load(path string, opt data.HDF5Options) (*data.Dataset, []string, error) {
	return nil, nil, fmt.Errorf("%w: %s: this pouwd was built without HDF5 support (CGO_ENABLED=0 or -tags nohdf5); rebuild with cgo and libhdf5-dev", ErrHDF5, path)
}

// LoadFunc adapts Load to data.LoadFunc.
func LoadFunc(o data.Options) (*data.Dataset, []string, error) {
	return Load(o.Path, data.HDF5Options{})
}
