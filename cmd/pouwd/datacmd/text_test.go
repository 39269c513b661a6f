package datacmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Debian's licence texts as a text dataset through the CLI: prepare the
// folder with --seq-len 32, check the metadata against the files, and
// `data info` the result.
func TestPrepareTextFolder(t *testing.T) {
	src := "/usr/share/common-licenses"
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Skipf("no licence texts on this machine (%v): install base-files or run on Debian/Ubuntu", err)
	}
	// what the loader must read: the regular files (not GPL -> GPL-3 and
	// the other symlinks), each ending in '\n' or given one
	var names []string
	stream := 0
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, e.Name())
		stream += len(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			stream++
		}
	}
	if stream < 33 {
		t.Skipf("%s holds %d bytes of text, too little for this test", src, stream)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "licences")
	cache := filepath.Join(dir, "cache")
	args := []string{"prepare", "--source", "text:" + src, "--seq-len", "32", "--split", "80,10,10", "--out", out, "--json"}
	var sums []string
	for _, extra := range [][]string{{"--cache-dir", cache}, {"--cache-dir", cache}, {"--no-cache"}} {
		stdout, _, err := run(t, NewCommand(), append(args, extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			SHA256      string   `json:"sha256"`
			Source      string   `json:"source"`
			SourceFiles []string `json:"source_files"`
			Count       int      `json:"count"`
			Classes     int      `json:"classes"`
			ClassNames  []string `json:"class_names"`
			Shape       []int    `json:"shape"`
			DType       string   `json:"dtype"`
			Options     struct {
				Text struct {
					SeqLen int `json:"seq_len"`
					Stride int `json:"stride"`
				} `json:"text"`
			} `json:"options"`
			SplitCounts   struct{ Train, Validation, Test int } `json:"split_counts"`
			Preprocessing []any                                 `json:"preprocessing"`
		}
		if err := json.Unmarshal([]byte(stdout), &m); err != nil {
			t.Fatalf("prepare --json output: %v\n%s", err, stdout)
		}
		if want := (stream-33)/32 + 1; m.Count != want {
			t.Errorf("%d samples from %d bytes, expected %d", m.Count, stream, want)
		}
		if m.Source != "text" || m.Classes != 256 || len(m.ClassNames) != 256 || m.ClassNames['A'] != "0x41 'A'" || len(m.Shape) != 1 || m.Shape[0] != 32 || m.DType != "float32" {
			t.Errorf("meta: source %q, %d classes (%d names, 'A' is %q), shape %v %s", m.Source, m.Classes, len(m.ClassNames), m.ClassNames['A'], m.Shape, m.DType)
		}
		if m.Options.Text.SeqLen != 32 || m.Options.Text.Stride != 32 || len(m.Preprocessing) != 0 {
			t.Errorf("options %+v, preprocessing %v", m.Options.Text, m.Preprocessing)
		}
		if len(m.SourceFiles) != len(names) || !strings.HasSuffix(m.SourceFiles[0], "/"+names[0]) {
			t.Errorf("source files %v, expected the %d regular files %v", m.SourceFiles, len(names), names)
		}
		if c := m.SplitCounts; c.Train+c.Validation+c.Test != m.Count || c.Test == 0 || c.Validation == 0 {
			t.Errorf("split counts %+v of %d", c, m.Count)
		}
		sums = append(sums, m.SHA256)
	}
	if sums[0] != sums[1] || sums[1] != sums[2] {
		t.Errorf("sha256 not stable: %v", sums)
	}
	stdout, _, err := run(t, NewCommand(), "info", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{sums[0], "source         text (", "shape          [32] float32", "classes        256: 0x00, 0x01", "preprocessing  none"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("info output lacks %q:\n%s", want, stdout)
		}
	}
	// text is never normalised, and the window options are checked
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--normalize"}, "exact integers"},
		{[]string{"--stride", "33"}, "stride 33, expected 1..32"},
		{[]string{"--seq-len", "1"}, "sequence length 1, expected 2..4096"},
	} {
		a := append([]string{"prepare", "--source", "text:" + src, "--seq-len", "32", "--out", filepath.Join(dir, "bad"), "--no-cache"}, c.args...)
		if _, _, err := run(t, NewCommand(), a...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, expected an error saying %q", c.args, err, c.want)
		}
	}
	if _, _, err := run(t, NewCommand(), "prepare", "--source", "text:"+filepath.Join(dir, "missing"), "--out", filepath.Join(dir, "bad"), "--no-cache"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing path: %v", err)
	}
}
