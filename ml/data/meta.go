package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File names inside a prepared dataset directory.
const (
	DataFile = "dataset.pouw"
	MetaFile = "meta.json"
)

// FormatName is Meta.Format for this version.
const FormatName = "pouw-dataset/1"

// SplitCounts counts samples per split.
type SplitCounts struct {
	Train      int `json:"train"`
	Validation int `json:"validation"`
	Test       int `json:"test"`
}

// Meta describes a prepared dataset (meta.json).
type Meta struct {
	Format         string       `json:"format"`
	Name           string       `json:"name"`
	Source         string       `json:"source"` // mnist, fashion-mnist, cifar10, cifar100, csv, hdf5, images, text
	SourceFiles    []string     `json:"source_files"`
	SourceSHA256   string       `json:"source_sha256"`
	Options        Options      `json:"options"`
	Count          int          `json:"count"`
	Classes        int          `json:"classes"`
	ClassNames     []string     `json:"class_names"`
	Shape          []int        `json:"shape"`
	DType          string       `json:"dtype"`
	LabelHistogram []int        `json:"label_histogram"`
	Split          SplitOptions `json:"split"`
	SplitCounts    SplitCounts  `json:"split_counts"`
	Preprocessing  []Step       `json:"preprocessing"`
	Bytes          int64        `json:"bytes"`
	SHA256         string       `json:"sha256"`
}

// Histogram counts samples per class.
func Histogram(labels []int, classes int) []int {
	h := make([]int, classes)
	for _, l := range labels {
		h[l]++
	}
	return h
}

func countSplits(s []uint8) SplitCounts {
	var c SplitCounts
	for _, v := range s {
		switch v {
		case Train:
			c.Train++
		case Validation:
			c.Validation++
		case Test:
			c.Test++
		}
	}
	return c
}

// ReadMeta reads DIR/meta.json.
func ReadMeta(dir string) (*Meta, error) {
	p := filepath.Join(dir, MetaFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (expected a prepared dataset directory)", ErrFormat, err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, p, err)
	}
	if m.Format != FormatName {
		return nil, fmt.Errorf("%w: %s: format %q, expected %q", ErrFormat, p, m.Format, FormatName)
	}
	if len(m.SHA256) != 64 {
		return nil, fmt.Errorf("%w: %s: sha256 %q, expected 64 hex digits", ErrFormat, p, m.SHA256)
	}
	return &m, nil
}

// Load reads a prepared dataset directory into memory, checking the
// canonical bytes against meta.json's sha256 (ErrCorrupt on mismatch) and
// the header against the metadata.
func Load(dir string) (*Dataset, *Meta, error) {
	m, err := ReadMeta(dir)
	if err != nil {
		return nil, nil, err
	}
	p := filepath.Join(dir, DataFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
		return nil, nil, fmt.Errorf("%w: %s has sha256 %s, expected %s from %s", ErrCorrupt, p, got, m.SHA256, MetaFile)
	}
	d, err := Decode(p, b)
	if err != nil {
		return nil, nil, err
	}
	if err := m.check(p, d.Len(), d.Classes, d.Shape, d.DType); err != nil {
		return nil, nil, err
	}
	d.ClassNames = m.ClassNames
	return d, m, nil
}

func (m *Meta) check(p string, n, classes int, shape []int, dt DType) error {
	if m.Count != n || m.Classes != classes || fmt.Sprint(m.Shape) != fmt.Sprint(shape) || m.DType != dt.String() {
		return fmt.Errorf("%w: %s holds %d samples, %d classes, shape %v %s but %s says %d, %d, %v %s", ErrFormat, p, n, classes, shape, dt, MetaFile, m.Count, m.Classes, m.Shape, m.DType)
	}
	if len(m.ClassNames) != classes {
		return fmt.Errorf("%w: %s: %d class names for %d classes", ErrFormat, MetaFile, len(m.ClassNames), classes)
	}
	return nil
}

// Verify checks a prepared dataset directory without loading it: the
// canonical file's streamed SHA-256 against meta.json, its header against
// the metadata and its exact length.
func Verify(dir string) (*Meta, error) {
	m, err := ReadMeta(dir)
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, DataFile)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	defer f.Close()
	head := make([]byte, HeaderLen(MaxRank))
	n, _ := io.ReadFull(f, head)
	h, err := ParseHeader(p, head[:n])
	if err != nil {
		return nil, err
	}
	if err := m.check(p, h.Count, h.Classes, h.Shape, h.DType); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	hs := sha256.New()
	size, err := io.CopyBuffer(hs, f, make([]byte, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, p, err)
	}
	if size != h.FileSize() {
		return nil, fmt.Errorf("%w: %s: %d bytes, expected %d", ErrFormat, p, size, h.FileSize())
	}
	if got := hex.EncodeToString(hs.Sum(nil)); got != m.SHA256 {
		return nil, fmt.Errorf("%w: %s has sha256 %s, expected %s from %s", ErrCorrupt, p, got, m.SHA256, MetaFile)
	}
	return m, nil
}

// HashFile returns the hex SHA-256 of a file, streamed.
func HashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
