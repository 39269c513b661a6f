package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// Samples is what training reads: sample count, per-sample shape, labels,
// splits and samples as float32. *Dataset (in memory) and *Lazy (on disk)
// implement it.
type Samples interface {
	Len() int
	Dim() int
	Label(i int) int
	Read(i int, dst []float32)
}

// Lazy reads samples of a prepared dataset from disk in chunks, holding at
// most a fixed number of chunks (an LRU) so that memory stays within a
// budget. Labels and splits (5 bytes per sample) stay in memory as int32
// and uint8. Safe for concurrent use.
type Lazy struct {
	f          *os.File
	h          Header
	Labels     []int32
	Split      []uint8
	ClassNames []string

	sampleBytes int
	perChunk    int // samples per chunk
	maxChunks   int

	mu     sync.Mutex
	chunks map[int]*chunk
	tick   uint64
}

type chunk struct {
	buf  []byte
	used uint64
}

// Open opens a prepared dataset for reading within budget bytes: when the
// canonical file fits in the budget it is loaded into memory (Load),
// otherwise it is verified by streaming its SHA-256 and read lazily. The
// caller closes the returned Lazy (a *Dataset needs no closing).
func Open(dir string, budget int64) (Samples, *Meta, error) {
	m, err := ReadMeta(dir)
	if err != nil {
		return nil, nil, err
	}
	if m.Bytes <= budget {
		d, m, err := Load(dir)
		if err != nil {
			return nil, nil, err
		}
		return d, m, nil
	}
	l, err := OpenLazy(dir, m, budget)
	if err != nil {
		return nil, nil, err
	}
	return l, m, nil
}

// OpenLazy opens dir's canonical file for chunked reading. budget bounds
// the bytes held: labels and splits plus the chunk cache.
func OpenLazy(dir string, m *Meta, budget int64) (*Lazy, error) {
	p := filepath.Join(dir, DataFile)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	// verify the whole file with a small buffer
	hsh := sha256.New()
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(hsh, f, buf); err != nil {
		return nil, err
	}
	if got := hex.EncodeToString(hsh.Sum(nil)); got != m.SHA256 {
		return nil, fmt.Errorf("%w: %s has sha256 %s, expected %s from %s", ErrCorrupt, p, got, m.SHA256, MetaFile)
	}
	head := make([]byte, HeaderLen(MaxRank))
	n, _ := f.ReadAt(head, 0)
	h, err := ParseHeader(p, head[:n])
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != h.FileSize() {
		return nil, fmt.Errorf("%w: %s: %d bytes, expected %d", ErrFormat, p, st.Size(), h.FileSize())
	}
	if err := m.check(p, h.Count, h.Classes, h.Shape, h.DType); err != nil {
		return nil, err
	}
	l := &Lazy{f: f, h: h, ClassNames: m.ClassNames, sampleBytes: h.Dim() * h.DType.Size(), chunks: map[int]*chunk{}}
	// labels and splits, read in pieces
	lOff := int64(h.Len) + int64(h.Count)*int64(l.sampleBytes)
	l.Labels = make([]int32, h.Count)
	for i := 0; i < h.Count; {
		k := min(len(buf)/4, h.Count-i)
		if _, err := f.ReadAt(buf[:4*k], lOff+4*int64(i)); err != nil {
			return nil, fmt.Errorf("%w: %s: labels: %v", ErrFormat, p, err)
		}
		for j := 0; j < k; j++ {
			v := binary.LittleEndian.Uint32(buf[4*j:])
			if int(v) >= h.Classes {
				return nil, fmt.Errorf("%w: %s: label of sample %d is %d, expected 0..%d", ErrFormat, p, i+j, v, h.Classes-1)
			}
			l.Labels[i+j] = int32(v)
		}
		i += k
	}
	l.Split = make([]uint8, h.Count)
	if _, err := f.ReadAt(l.Split, lOff+4*int64(h.Count)); err != nil {
		return nil, fmt.Errorf("%w: %s: splits: %v", ErrFormat, p, err)
	}
	cacheBudget := budget - 5*int64(h.Count) - min(1<<20, budget/8) // reserve for bookkeeping
	chunkBytes := max(int64(l.sampleBytes), min(cacheBudget/8, 4<<20))
	l.perChunk = int(chunkBytes / int64(l.sampleBytes))
	l.maxChunks = int(cacheBudget / (int64(l.perChunk) * int64(l.sampleBytes)))
	if l.maxChunks < 1 {
		return nil, fmt.Errorf("%w: memory budget %d bytes cannot hold the labels (%d bytes) and one %d-byte sample of %s", ErrOptions, budget, 5*h.Count, l.sampleBytes, p)
	}
	ok = true
	return l, nil
}

// Close closes the file.
func (l *Lazy) Close() error { return l.f.Close() }

// Len is the number of samples.
func (l *Lazy) Len() int { return l.h.Count }

// Dim is the number of elements per sample.
func (l *Lazy) Dim() int { return l.h.Dim() }

// Header is the canonical header.
func (l *Lazy) Header() Header { return l.h }

// Label returns sample i's class.
func (l *Lazy) Label(i int) int { return int(l.Labels[i]) }

// Read writes sample i as float32 into dst. It panics on an I/O error
// after open (a vanished or truncated file), which Samples cannot report;
// use ReadErr to get the error instead.
func (l *Lazy) Read(i int, dst []float32) {
	if err := l.ReadErr(i, dst); err != nil {
		panic(err)
	}
}

// ReadErr is Read returning I/O errors.
func (l *Lazy) ReadErr(i int, dst []float32) error {
	if i < 0 || i >= l.h.Count {
		return fmt.Errorf("%w: sample %d out of 0..%d", ErrOptions, i, l.h.Count-1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ci := i / l.perChunk
	c, ok := l.chunks[ci]
	if !ok {
		if len(l.chunks) >= l.maxChunks {
			// evict the least recently used chunk, reusing its buffer
			victim, best := -1, uint64(math.MaxUint64)
			for k, v := range l.chunks {
				if v.used < best {
					victim, best = k, v.used
				}
			}
			c = l.chunks[victim]
			delete(l.chunks, victim)
		} else {
			c = &chunk{buf: make([]byte, l.perChunk*l.sampleBytes)}
		}
		first := ci * l.perChunk
		cnt := min(l.perChunk, l.h.Count-first)
		c.buf = c.buf[:cnt*l.sampleBytes]
		if _, err := l.f.ReadAt(c.buf, int64(l.h.Len)+int64(first)*int64(l.sampleBytes)); err != nil {
			return fmt.Errorf("%w: %s: reading samples %d..%d: %v", ErrFormat, l.f.Name(), first, first+cnt-1, err)
		}
		c.buf = c.buf[:cap(c.buf)]
		l.chunks[ci] = c
	}
	l.tick++
	c.used = l.tick
	off := (i - ci*l.perChunk) * l.sampleBytes
	s := c.buf[off : off+l.sampleBytes]
	if l.h.DType == Uint8 {
		for j, v := range s {
			dst[j] = float32(v)
		}
		return nil
	}
	for j := range dst[:l.h.Dim()] {
		dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(s[4*j:]))
	}
	return nil
}
