package hdf5

import (
	"errors"
	"fmt"

	"github.com/pouw/pouwd/ml/data"
)

// ErrHDF5 wraps every error of this package (and data.ErrSource).
var ErrHDF5 = errors.New("hdf5")

// ErrNoLibrary is returned (wrapped, with ErrHDF5) when libhdf5 cannot be
// loaded at run time.
var ErrNoLibrary = errors.New("libhdf5 not found")

// LibraryEnv names the environment variable that overrides where libhdf5
// is looked for (a path or a soname).
const LibraryEnv = "POUWD_LIBHDF5"

// LoadFunc adapts Load to data.LoadFunc.
func LoadFunc(o data.Options) (*data.Dataset, []string, error) {
	if o.HDF5 == nil {
		return nil, nil, fmt.Errorf("%w: hdf5 source without dataset names", data.ErrOptions)
	}
	return Load(o.Path, *o.HDF5)
}
