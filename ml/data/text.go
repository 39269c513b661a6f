package data

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text source defaults and bounds.
const (
	// TextVocab is the byte-level vocabulary: every token is one byte.
	TextVocab = 256
	// DefaultSeqLen is the default window length T.
	DefaultSeqLen = 64
	// MaxSeqLen bounds T; longer windows are not useful to the planned
	// Transformer and make the float32 samples grow T-fold per window.
	MaxSeqLen = 4096
)

// TextOptions says how to cut a text source into next-byte samples.
type TextOptions struct {
	// SeqLen is the window length T (2..MaxSeqLen, 0 = DefaultSeqLen).
	SeqLen int `json:"seq_len"`
	// Stride is the distance between window starts (1..SeqLen, 0 = SeqLen:
	// windows that do not overlap).
	Stride int `json:"stride"`
	// MaxSamples keeps only the first MaxSamples windows (0 = all).
	MaxSamples int `json:"max_samples,omitempty"`
}

func (o *TextOptions) defaults() error {
	if o.SeqLen == 0 {
		o.SeqLen = DefaultSeqLen
	}
	if o.SeqLen < 2 || o.SeqLen > MaxSeqLen {
		return fmt.Errorf("%w: text sequence length %d, expected 2..%d", ErrOptions, o.SeqLen, MaxSeqLen)
	}
	if o.Stride == 0 {
		o.Stride = o.SeqLen
	}
	if o.Stride < 1 || o.Stride > o.SeqLen {
		return fmt.Errorf("%w: text stride %d, expected 1..%d (the sequence length; 0 means the sequence length)", ErrOptions, o.Stride, o.SeqLen)
	}
	if o.MaxSamples < 0 {
		return fmt.Errorf("%w: text max samples %d, expected 0 (all) or more", ErrOptions, o.MaxSamples)
	}
	return nil
}

// TextFiles lists the files a text source reads, in the order they are
// concatenated. A regular file is read alone. A folder is walked
// recursively and its regular files are taken in byte order of their
// slash-separated paths relative to the folder. Inside a folder, symbolic
// links are skipped (they would read text from outside the folder, or the
// same text twice, as with Debian's GPL -> GPL-3), as are other
// non-regular files and every file or folder whose name starts with '.'
// (.git, editor files), as the image loader does. path itself may be a
// symlink to a file or a folder.
func TextFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: text source: %v (expected a UTF-8 text file or a folder of them)", ErrSource, err)
	}
	if st.Mode().IsRegular() {
		return []string{path}, nil
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: text source %s is neither a regular file nor a folder (mode %v), expected a UTF-8 text file or a folder of them", ErrSource, path, st.Mode())
	}
	var rels []string
	var walk func(rel string) error
	walk = func(rel string) error {
		ents, err := os.ReadDir(filepath.Join(path, filepath.FromSlash(rel)))
		if err != nil {
			return fmt.Errorf("%w: text source: %v", ErrSource, err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			r := e.Name()
			if rel != "" {
				r = rel + "/" + r
			}
			switch {
			case e.IsDir():
				if err := walk(r); err != nil {
					return err
				}
			case e.Type().IsRegular():
				rels = append(rels, r)
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	sort.Strings(rels)
	files := make([]string, len(rels))
	for i, r := range rels {
		files[i] = filepath.Join(path, filepath.FromSlash(r))
	}
	return files, nil
}

// LoadText reads a text source (a file or a folder, see TextFiles) into
// next-byte samples. Every file must be valid UTF-8; the files are
// concatenated in TextFiles order, each followed by one '\n' when it does
// not already end in one (so a file gives the same stream alone or as the
// only file of a folder, and the last line of one file never runs into the
// first of the next); empty files add nothing. Bytes are kept as they are:
// no newline conversion, a byte-order mark stays three tokens. The stream
// is then cut as ParseText does. Every window costs 4*SeqLen bytes in
// memory and in the canonical file, so a small Stride multiplies the text
// size by up to 4*SeqLen: MaxSamples caps it.
func LoadText(path string, opt TextOptions) (*Dataset, []string, error) {
	if err := opt.defaults(); err != nil {
		return nil, nil, err
	}
	files, err := TextFiles(path)
	if err != nil {
		return nil, nil, err
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: no text files in the folder (names starting with '.' and symlinks are skipped), expected UTF-8 text", ErrSource, path)
	}
	var stream []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrSource, err)
		}
		if err := checkUTF8(f, b); err != nil {
			return nil, nil, err
		}
		if len(b) == 0 {
			continue
		}
		stream = append(stream, b...)
		if b[len(b)-1] != '\n' {
			stream = append(stream, '\n')
		}
	}
	d, err := textWindows(path, stream, opt)
	return d, files, err
}

// ParseText cuts one UTF-8 byte stream into next-byte samples. Tokens are
// bytes (vocabulary 256). With T = SeqLen and s = Stride, window i holds
// bytes [i*s, i*s+T) as float32 token ids (exact integers 0..255) and its
// label is byte i*s+T, the byte the next-token head must predict; windows
// whose label would lie past the end are dropped, so a stream of L bytes
// gives (L-T-1)/s + 1 windows (integer division; at most MaxSamples).
// Shape [T], dtype float32, 256 classes, no official split. name is used
// in error messages.
func ParseText(name string, b []byte, opt TextOptions) (*Dataset, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	if err := checkUTF8(name, b); err != nil {
		return nil, err
	}
	return textWindows(name, b, opt)
}

// textWindows is ParseText without the UTF-8 check; opt has its defaults.
func textWindows(name string, b []byte, opt TextOptions) (*Dataset, error) {
	T, s := opt.SeqLen, opt.Stride
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s: empty, expected UTF-8 text of at least seq-len+1 = %d bytes", ErrSource, name, T+1)
	}
	if len(b) < T+1 {
		return nil, fmt.Errorf("%w: %s: %d bytes of text, expected at least seq-len+1 = %d (a window of %d and the byte after it)", ErrSource, name, len(b), T+1, T)
	}
	n := (len(b)-T-1)/s + 1
	if opt.MaxSamples > 0 && n > opt.MaxSamples {
		n = opt.MaxSamples
	}
	d := &Dataset{
		DType: Float32, Shape: []int{T}, Classes: TextVocab, ClassNames: TextClassNames(),
		F32: make([]float32, n*T), Labels: make([]int, n), Split: make([]uint8, n),
	}
	for i := 0; i < n; i++ {
		w := b[i*s : i*s+T]
		dst := d.F32[i*T : (i+1)*T]
		for j, v := range w {
			dst[j] = float32(v)
		}
		d.Labels[i] = int(b[i*s+T])
	}
	return d, nil
}

// checkUTF8 reports the byte offset of the first invalid UTF-8 sequence
// in b: byte tokens are fine with any bytes, but a "text" source that is
// not UTF-8 is almost always a wrong file (a binary, a Latin-1 export) and
// would silently train on garbage.
func checkUTF8(name string, b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	for off := 0; off < len(b); {
		r, size := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && size <= 1 {
			end := min(off+4, len(b))
			return fmt.Errorf("%w: %s: invalid UTF-8 at byte offset %d (bytes % x), expected UTF-8 text", ErrSource, name, off, b[off:end])
		}
		off += size
	}
	return nil
}

// TextClassNames names the 256 byte classes for meta.json: "0x41 'A'"
// for printable ASCII and tab, newline, carriage return (Go-quoted),
// "0xc3" for the rest (control bytes and the bytes of multi-byte UTF-8
// sequences, which are not characters on their own).
func TextClassNames() []string {
	names := make([]string, TextVocab)
	for i := range names {
		c := byte(i)
		if (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r' {
			names[i] = fmt.Sprintf("0x%02x %s", c, strconv.QuoteRune(rune(c)))
		} else {
			names[i] = fmt.Sprintf("0x%02x", c)
		}
	}
	return names
}
