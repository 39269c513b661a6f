package data

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// windowText returns window i of d as a string and its label byte.
func windowText(d *Dataset, i int) (string, byte) {
	T := d.Dim()
	b := make([]byte, T)
	for j, v := range d.F32[i*T : (i+1)*T] {
		b[j] = byte(v)
	}
	return string(b), byte(d.Labels[i])
}

// streamOf rebuilds the byte stream of a stride-1 text dataset: window 0
// followed by every label.
func streamOf(t *testing.T, d *Dataset) string {
	t.Helper()
	w, _ := windowText(d, 0)
	b := []byte(w)
	for _, l := range d.Labels {
		b = append(b, byte(l))
	}
	return string(b)
}

// checkTokens fails unless every sample element is an exact integer token id.
func checkTokens(t *testing.T, d *Dataset) {
	t.Helper()
	for j, v := range d.F32 {
		if v != float32(int(v)) || v < 0 || v > 255 {
			t.Fatalf("element %d is %v, expected an integer token id 0..255", j, v)
		}
	}
}

func TestTextWindowsExact(t *testing.T) {
	text := []byte("hello world\n") // 12 bytes
	for _, c := range []struct {
		opt     TextOptions
		windows []string // window + label
	}{
		{TextOptions{SeqLen: 4}, []string{"hell|o", "o wo|r"}},
		{TextOptions{SeqLen: 4, Stride: 3}, []string{"hell|o", "lo w|o", "worl|d"}},
		{TextOptions{SeqLen: 4, Stride: 1}, []string{"hell|o", "ello| ", "llo |w", "lo w|o", "o wo|r", " wor|l", "worl|d", "orld|\n"}},
		{TextOptions{SeqLen: 4, Stride: 1, MaxSamples: 3}, []string{"hell|o", "ello| ", "llo |w"}},
		{TextOptions{SeqLen: 4, Stride: 1, MaxSamples: 100}, []string{"hell|o", "ello| ", "llo |w", "lo w|o", "o wo|r", " wor|l", "worl|d", "orld|\n"}},
		{TextOptions{SeqLen: 11}, []string{"hello world|\n"}}, // exactly T+1 bytes
		{TextOptions{SeqLen: 2, Stride: 2}, []string{"he|l", "ll|o", "o |w", "wo|r", "rl|d"}},
	} {
		d, err := ParseText("t.txt", text, c.opt)
		must(t, err)
		must(t, d.Validate())
		if d.DType != Float32 || d.Classes != 256 || len(d.Shape) != 1 || d.Shape[0] != c.opt.SeqLen || len(d.ClassNames) != 256 {
			t.Fatalf("%+v: dtype %v, %d classes, shape %v, %d names", c.opt, d.DType, d.Classes, d.Shape, len(d.ClassNames))
		}
		if d.Len() != len(c.windows) {
			t.Fatalf("%+v: %d windows, expected %d", c.opt, d.Len(), len(c.windows))
		}
		for i, want := range c.windows {
			w, l := windowText(d, i)
			if got := w + "|" + string(l); got != want {
				t.Errorf("%+v: window %d is %q, expected %q", c.opt, i, got, want)
			}
			if d.Split[i] != Train {
				t.Errorf("window %d has split %d before Build, expected 0", i, d.Split[i])
			}
		}
		checkTokens(t, d)
	}
	names := TextClassNames()
	for b, want := range map[int]string{0x41: "0x41 'A'", 0x20: "0x20 ' '", 0x0a: `0x0a '\n'`, 0x27: `0x27 '\''`, 0x00: "0x00", 0x7f: "0x7f", 0xc3: "0xc3", 0xff: "0xff"} {
		if names[b] != want {
			t.Errorf("class name of byte %#x is %q, expected %q", b, names[b], want)
		}
	}
}

func TestTextOptionsAndErrors(t *testing.T) {
	for _, opt := range []TextOptions{{SeqLen: 1}, {SeqLen: MaxSeqLen + 1}, {SeqLen: -3}, {SeqLen: 8, Stride: 9}, {SeqLen: 8, Stride: -1}, {MaxSamples: -1}} {
		if _, err := ParseText("t.txt", []byte(strings.Repeat("a", 10000)), opt); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v, expected ErrOptions", opt, err)
		}
	}
	if o, err := (Options{Kind: KindText, Path: "x"}).Normalized(); err != nil || *o.Text != (TextOptions{SeqLen: 64, Stride: 64}) || o.Split.Mode != "ratio" {
		t.Errorf("defaults: %+v %v", o.Text, err)
	}
	if _, err := (Options{Kind: KindText, Path: "x", Normalize: true}).Normalized(); !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), "exact integers") {
		t.Errorf("normalize on text: %v, expected ErrOptions", err)
	}
	if _, err := (Options{Kind: KindText, Path: "x", Split: SplitOptions{Mode: "official"}}).Normalized(); !errors.Is(err, ErrOptions) {
		t.Errorf("official split on text: %v, expected ErrOptions", err)
	}
	if o, _ := (Options{Kind: KindCSV, Path: "x", Text: &TextOptions{SeqLen: 5}}).Normalized(); o.Text != nil {
		t.Errorf("text options kept for csv: %+v", o.Text)
	}
	if _, _, err := ParseSource("text"); !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), "text:PATH") {
		t.Errorf("text without a path: %v", err)
	}
	if k, p, err := ParseSource("text:a/b.txt"); err != nil || k != KindText || p != "a/b.txt" {
		t.Errorf("text:a/b.txt: %q %q %v", k, p, err)
	}

	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	empty := write("empty.txt", "")
	short := write("short.txt", "0123456789") // 10 bytes + '\n'
	must(t, os.MkdirAll(filepath.Join(dir, "nothing", ".hidden"), 0o755))
	write("nothing/.hidden/x.txt", "hidden text")
	for _, c := range []struct {
		path string
		opt  TextOptions
		want []string
	}{
		{filepath.Join(dir, "missing.txt"), TextOptions{}, []string{"missing.txt", "no such file"}},
		{empty, TextOptions{}, []string{"empty.txt", "empty, expected UTF-8 text"}},
		{short, TextOptions{SeqLen: 11}, []string{"short.txt", "11 bytes of text, expected at least seq-len+1 = 12"}},
		{filepath.Join(dir, "nothing"), TextOptions{}, []string{"nothing", "no text files"}},
	} {
		_, _, err := LoadText(c.path, c.opt)
		if !errors.Is(err, ErrSource) {
			t.Errorf("%s: %v, expected ErrSource", c.path, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.path, err, w)
			}
		}
	}
	// 10 bytes + the separator: exactly one window of 10
	d, files, err := LoadText(short, TextOptions{SeqLen: 10})
	must(t, err)
	if w, l := windowText(d, 0); d.Len() != 1 || w != "0123456789" || l != '\n' || len(files) != 1 {
		t.Errorf("short.txt with seq-len 10: %d windows, %q|%q, files %v", d.Len(), w, l, files)
	}
}

func TestTextFolderOrder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(s), 0o644))
	}
	write("b.txt", "bb")       // no final newline: one is added
	write("a/z.txt", "az\n")   // ends in one: none added
	write("a-b.txt", "ab")     // '-' (0x2d) sorts before '/' (0x2f): before a/z.txt
	write("a/y/x.txt", "ayx")  // deeper, but "a/y/" < "a/z"
	write("e.txt", "")         // empty: adds nothing
	write("B.txt", "BB\r\n")   // upper case sorts first; CRLF kept
	write(".hidden", "\xff")   // skipped (would be invalid UTF-8)
	write(".git/HEAD", "\xfe") // hidden folder skipped
	if err := os.Symlink("b.txt", filepath.Join(dir, "link.txt")); err != nil {
		t.Logf("no symlink support (%v): the symlink case is not covered", err)
	}
	files, err := TextFiles(dir)
	must(t, err)
	var rels []string
	for _, f := range files {
		r, _ := filepath.Rel(dir, f)
		rels = append(rels, filepath.ToSlash(r))
	}
	if got, want := strings.Join(rels, " "), "B.txt a-b.txt a/y/x.txt a/z.txt b.txt e.txt"; got != want {
		t.Fatalf("files %q, expected %q", got, want)
	}
	d, lf, err := LoadText(dir, TextOptions{SeqLen: 2, Stride: 1})
	must(t, err)
	if len(lf) != len(files) {
		t.Errorf("LoadText read %v, TextFiles lists %v", lf, files)
	}
	if got, want := streamOf(t, d), "BB\r\nab\nayx\naz\nbb\n"; got != want {
		t.Fatalf("stream %q, expected %q", got, want)
	}
	// SourceFiles (the cache key) lists the same files in the same order
	sf, err := SourceFiles(Options{Kind: KindText, Path: dir})
	must(t, err)
	if strings.Join(sf, "\n") != strings.Join(files, "\n") {
		t.Errorf("SourceFiles %v, TextFiles %v", sf, files)
	}
	// a file alone gives the same stream as a folder holding only it
	one := filepath.Join(t.TempDir(), "only")
	must(t, os.MkdirAll(one, 0o755))
	must(t, os.WriteFile(filepath.Join(one, "t.txt"), []byte("no newline at the end"), 0o644))
	da, _, err := LoadText(one, TextOptions{SeqLen: 4, Stride: 1})
	must(t, err)
	db, _, err := LoadText(filepath.Join(one, "t.txt"), TextOptions{SeqLen: 4, Stride: 1})
	must(t, err)
	if sha(t, da) != sha(t, db) || streamOf(t, da) != "no newline at the end\n" {
		t.Errorf("file alone and folder differ: %q vs %q", streamOf(t, da), streamOf(t, db))
	}
}

func TestTextRejectsInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("fine text, ünïcödé ok\n"), 0o644))
	for _, c := range []struct {
		body string
		off  string
	}{
		{"h\xe9llo in Latin-1\n", "byte offset 1 (bytes e9 6c 6c 6f)"},
		{"ok € then cut \xe2\x82", "byte offset 16 (bytes e2 82)"},
		{"\xc0\xaf overlong", "byte offset 0"},
		{"surrogate \xed\xa0\x80", "byte offset 10"},
	} {
		bad := filepath.Join(dir, "b.txt")
		must(t, os.WriteFile(bad, []byte(c.body), 0o644))
		_, _, err := LoadText(dir, TextOptions{SeqLen: 2})
		if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), c.off) {
			t.Errorf("%q: %v, expected ErrSource naming %s and %q", c.body, err, bad, c.off)
		}
		if _, err := ParseText("raw", []byte(c.body), TextOptions{SeqLen: 2}); !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), "raw: invalid UTF-8 at "+c.off) {
			t.Errorf("ParseText %q: %v", c.body, err)
		}
	}
}

// The same text and options always give the same canonical bytes, through
// the loader, Build with a ratio split and Prepare; other options give
// other bytes.
func TestTextDeterministic(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; i < 400; i++ {
		b.WriteString("the quick brown fox jumps over the lazy dog; ")
	}
	must(t, os.WriteFile(filepath.Join(dir, "fox.txt"), []byte(b.String()), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "z.txt"), []byte("Grüße, 世界\n"), 0o644))
	var sums []string
	for k := 0; k < 2; k++ {
		r, err := (*Cache)(nil).Prepare(Options{Kind: KindText, Path: dir, Text: &TextOptions{SeqLen: 16, Stride: 5}}, nil, filepath.Join(t.TempDir(), "out"))
		must(t, err)
		d, m, err := Load(r.Dir)
		must(t, err)
		checkTokens(t, d)
		if m.Source != KindText || m.Classes != 256 || m.DType != "float32" || len(m.SourceFiles) != 2 || m.Split.Mode != "ratio" || len(m.Preprocessing) != 0 {
			t.Fatalf("meta %+v", m)
		}
		if want := (b.Len()+1+len("Grüße, 世界\n")-17)/5 + 1; m.Count != want {
			t.Errorf("%d samples, expected %d", m.Count, want)
		}
		if c := m.SplitCounts; c.Train == 0 || c.Validation == 0 || c.Test == 0 || c.Train+c.Validation+c.Test != m.Count {
			t.Errorf("split counts %+v of %d", c, m.Count)
		}
		sums = append(sums, m.SHA256)
	}
	if sums[0] != sums[1] {
		t.Fatalf("two prepares of the same text: %v", sums)
	}
	r, err := (*Cache)(nil).Prepare(Options{Kind: KindText, Path: dir, Text: &TextOptions{SeqLen: 16, Stride: 4}}, nil, filepath.Join(t.TempDir(), "out"))
	must(t, err)
	if r.Meta.SHA256 == sums[0] {
		t.Error("another stride gave the same sha256")
	}
	// the cache serves the same bytes
	c := &Cache{Dir: t.TempDir()}
	for k := 0; k < 2; k++ {
		r, err := c.Prepare(Options{Kind: KindText, Path: dir, Text: &TextOptions{SeqLen: 16, Stride: 5}}, nil, filepath.Join(t.TempDir(), "out"))
		must(t, err)
		if r.Meta.SHA256 != sums[0] || r.Hit != (k == 1) {
			t.Errorf("cache prepare %d: sha256 %s hit %v, expected %s", k, r.Meta.SHA256, r.Hit, sums[0])
		}
	}
}

// GNU GPL v3 as Debian ships it (/usr/share/common-licenses/GPL-3).
const (
	gpl3SHA256 = "3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986"
	// canonical sha256 of the GPL-3 text at seq-len 64, stride 64, before
	// the split (every sample in train)
	gpl3TextSHA256 = "d3cbf9e2401ac29604d57cfb8c2570e2f7df1b17f737ca4ab234aa60f3b5e777"
)

func TestRealText(t *testing.T) {
	p := "/usr/share/common-licenses/GPL-3"
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("no real text on this machine (%v): install base-files or run on Debian/Ubuntu", err)
	}
	d, files, err := LoadText(p, TextOptions{})
	must(t, err)
	must(t, d.Validate())
	checkTokens(t, d)
	if len(files) != 1 || d.Shape[0] != 64 {
		t.Fatalf("files %v, shape %v", files, d.Shape)
	}
	stream := raw
	if raw[len(raw)-1] != '\n' {
		stream = append(stream, '\n')
	}
	if want := (len(stream)-65)/64 + 1; d.Len() != want {
		t.Fatalf("%d windows of %d bytes, expected %d", d.Len(), len(stream), want)
	}
	for _, i := range []int{0, 1, d.Len() / 2, d.Len() - 1} {
		w, l := windowText(d, i)
		if w != string(stream[i*64:i*64+64]) || l != stream[i*64+64] {
			t.Errorf("window %d is %q|%q, expected %q|%q", i, w, l, stream[i*64:i*64+64], stream[i*64+64])
		}
	}
	if w, _ := windowText(d, 0); !strings.Contains(w, "GNU GENERAL PUBLIC LICENSE") {
		t.Errorf("first window %q", w)
	}
	// byte-level statistics of English: space and 'e' are the commonest labels
	h := Histogram(d.Labels, 256)
	if h[' '] < h['e'] || h['e'] < h['z'] {
		t.Errorf("label histogram: ' ' %d, 'e' %d, 'z' %d", h[' '], h['e'], h['z'])
	}
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != gpl3SHA256 {
		t.Logf("%s differs from the GPL-3 text this test pins (%x); not checking the canonical sha256", p, sum)
		return
	}
	if got := sha(t, d); got != gpl3TextSHA256 {
		t.Errorf("GPL-3 canonical sha256 %s, pinned %s", got, gpl3TextSHA256)
	}
}
