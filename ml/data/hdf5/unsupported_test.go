//go:build !(linux || darwin || freebsd) || nohdf5

package hdf5

import (
	"errors"
	"strings"
	"testing"

	"github.com/pouw/pouwd/ml/data"
)

func TestLoadWithoutHDF5(t *testing.T) {
	_, _, err := Load("x.h5", data.HDF5Options{Features: "x", Labels: "y"})
	if !errors.Is(err, ErrHDF5) || !strings.Contains(err.Error(), "x.h5") || !strings.Contains(err.Error(), "without HDF5 support") {
		t.Fatalf("Load without HDF5 support: %v", err)
	}
}
