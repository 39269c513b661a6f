//go:build unix

package engine

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"syscall"
	"unsafe"
)

// hostLittleEndian reports whether float32 bits in memory are little-endian,
// the byte order of the spill file.
var hostLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// spill writes the rows idx as little-endian float32 into a temporary file
// under dir and maps it read-only. The returned slice is backed by the
// file's pages (the kernel reads them on demand and may drop them), not by
// the Go heap; release unmaps and removes the file.
func (t *Trainer) spill(dir string, idx []int) ([]float32, func(), error) {
	if !hostLittleEndian {
		return nil, nil, fmt.Errorf("engine: spilling to disk needs a little-endian host")
	}
	dim := t.Data.Dim()
	f, err := os.CreateTemp(dir, "pouwd-fold-*.f32")
	if err != nil {
		return nil, nil, err
	}
	name := f.Name()
	fail := func(err error) ([]float32, func(), error) {
		f.Close()
		os.Remove(name)
		return nil, nil, fmt.Errorf("engine: spilling %d training rows to %s: %w", len(idx), name, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	row := make([]float32, dim)
	buf := make([]byte, 4*dim)
	for _, i := range idx {
		t.row(i, row)
		for e, v := range row {
			binary.LittleEndian.PutUint32(buf[4*e:], math.Float32bits(v))
		}
		if _, err := bw.Write(buf); err != nil {
			return fail(err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	size := len(idx) * dim * 4
	if size == 0 {
		f.Close()
		os.Remove(name)
		return []float32{}, func() {}, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fail(err)
	}
	f.Close()
	os.Remove(name) // the mapping keeps the data until Munmap
	x := unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), size/4)
	return x, func() { syscall.Munmap(b) }, nil
}
