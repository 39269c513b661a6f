//go:build !(linux || darwin || freebsd) || nohdf5

package hdf5

import (
	"fmt"

	"github.com/pouw/pouwd/ml/data"
)

// Available reports whether this build can read HDF5 files.
const Available = false

// Load cannot run in this build: libhdf5 is loaded with dlopen, which this
// platform or the nohdf5 build tag leaves out.
func Load(path string, opt data.HDF5Options) (*data.Dataset, []string, error) {
	return nil, nil, fmt.Errorf("%w: %s: this pouwd was built without HDF5 support (-tags nohdf5, or a platform without dlopen); rebuild without the tag on Linux, macOS or FreeBSD", ErrHDF5, path)
}
