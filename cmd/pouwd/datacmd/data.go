package datacmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/ml/data/hdf5"
)

// NewCommand returns the `data` command group.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Prepare and inspect datasets in pouwd's canonical format",
	}
	cmd.AddCommand(newPrepareCmd(), newInfoCmd())
	return cmd
}

type prepareFlags struct {
	source, out, name, split, dtype, cacheDir string
	seed                                      uint32
	stratify, normalize, jsonOut, noCache     bool
	csvLabel, csvHeader, csvComma             string
	imageSize                                 string
	gray, coarse                              bool
	h5Features, h5Labels                      string
	seqLen, stride, maxSamples                int
}

func newPrepareCmd() *cobra.Command {
	var f prepareFlags
	cmd := &cobra.Command{
		Use:   "prepare --source SOURCE --out DIR",
		Short: "Bring a dataset into the canonical format and print its metadata and sha256",
		Long: `Reads a source and writes DIR/dataset.pouw (canonical bytes) and DIR/meta.json.

Sources: mnist[:DIR] (default: the GoMNIST module's files), fashion-mnist[:DIR]
(default /usr/share/datasets/fashion-mnist), cifar10:PATH and cifar100:PATH
(the official binary .tar.gz or its extracted folder), csv:PATH, hdf5:PATH,
images:DIR (one subfolder per class, PNG/JPEG), text:PATH.

text:PATH is a UTF-8 text file or a folder read recursively (files in byte
order of their relative paths; symlinks and names starting with '.' skipped;
each file followed by '\n' unless it ends in one). Tokens are bytes: every
sample is a window of --seq-len byte ids (float32 0..255), labelled with the
byte after it (256 classes); windows start every --stride bytes. Text has no
official split (--split ratios apply) and is never normalised.

Prepared datasets are cached under --cache-dir, keyed by the source files'
hash and the options; every cache hit is verified against its sha256.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPrepare(cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", "", "mnist|fashion-mnist|cifar10:PATH|cifar100:PATH|csv:PATH|hdf5:PATH|images:DIR|text:PATH")
	fl.StringVar(&f.out, "out", "", "output directory (required)")
	fl.StringVar(&f.name, "name", "", "dataset name (default: the source kind)")
	fl.StringVar(&f.split, "split", "", `"official" (default where the source has one) or train,validation,test ratios, e.g. 80,10,10 or 0.8,0.1,0.1`)
	fl.Uint32Var(&f.seed, "seed", 0, "seed of the split shuffle")
	fl.BoolVar(&f.stratify, "stratify", true, "keep class shares in every split (ratio splits)")
	fl.StringVar(&f.dtype, "dtype", "", "uint8 (keep) or float32 (uint8 sources become x/255)")
	fl.BoolVar(&f.normalize, "normalize", false, "standardise each channel with training-split mean and std (float32 output)")
	fl.StringVar(&f.cacheDir, "cache-dir", data.DefaultCacheDir(), "prepared-dataset cache")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not read or write the cache")
	fl.BoolVar(&f.jsonOut, "json", false, "print the metadata as JSON")
	fl.StringVar(&f.csvLabel, "label", "", "csv: label column name or 0-based index (default: last column)")
	fl.StringVar(&f.csvHeader, "header", "auto", "csv: auto, yes or no")
	fl.StringVar(&f.csvComma, "comma", ",", "csv: field separator")
	fl.StringVar(&f.imageSize, "size", "32x32", "images: output WIDTHxHEIGHT")
	fl.BoolVar(&f.gray, "gray", false, "images: one grayscale channel instead of RGB")
	fl.BoolVar(&f.coarse, "coarse", false, "cifar100: the 20 coarse labels instead of the 100 fine ones")
	fl.StringVar(&f.h5Features, "features", "x", "hdf5: features dataset path")
	fl.StringVar(&f.h5Labels, "labels", "y", "hdf5: labels dataset path")
	fl.IntVar(&f.seqLen, "seq-len", data.DefaultSeqLen, fmt.Sprintf("text: bytes per sample window, 2..%d", data.MaxSeqLen))
	fl.IntVar(&f.stride, "stride", 0, "text: bytes between window starts, 1..seq-len (default: seq-len, no overlap)")
	fl.IntVar(&f.maxSamples, "max-samples", 0, "text: keep only the first N windows (0: all)")
	_ = cmd.MarkFlagRequired("source")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func (f prepareFlags) options() (data.Options, error) {
	kind, path, err := data.ParseSource(f.source)
	if err != nil {
		return data.Options{}, err
	}
	o := data.Options{Kind: kind, Path: path, Name: f.name, DType: f.dtype, Normalize: f.normalize, Coarse: f.coarse}
	switch {
	case f.split == "" || f.split == "official":
		if f.split == "official" {
			o.Split.Mode = "official"
		} else if !data.HasOfficialSplit(kind) {
			o.Split = data.SplitOptions{Mode: "ratio", TrainPPM: 800_000, ValidationPPM: 100_000, TestPPM: 100_000, Seed: f.seed, Stratified: f.stratify}
		}
	default:
		tr, va, te, err := data.ParseRatios(f.split)
		if err != nil {
			return o, err
		}
		o.Split = data.SplitOptions{Mode: "ratio", TrainPPM: tr, ValidationPPM: va, TestPPM: te, Seed: f.seed, Stratified: f.stratify}
	}
	switch kind {
	case data.KindCSV:
		comma := []rune(f.csvComma)
		if len(comma) != 1 {
			return o, fmt.Errorf("--comma %q, expected one character", f.csvComma)
		}
		o.CSV = &data.CSVOptions{Label: f.csvLabel, Header: f.csvHeader, Comma: comma[0]}
	case data.KindImages:
		w, h, ok := strings.Cut(f.imageSize, "x")
		wi, err1 := strconv.Atoi(w)
		hi, err2 := strconv.Atoi(h)
		if !ok || err1 != nil || err2 != nil {
			return o, fmt.Errorf("--size %q, expected WIDTHxHEIGHT such as 32x32", f.imageSize)
		}
		o.Image = &data.ImageOptions{Width: wi, Height: hi, Gray: f.gray}
	case data.KindHDF5:
		o.HDF5 = &data.HDF5Options{Features: f.h5Features, Labels: f.h5Labels}
	case data.KindText:
		o.Text = &data.TextOptions{SeqLen: f.seqLen, Stride: f.stride, MaxSamples: f.maxSamples}
	}
	return o, nil
}

func loader(o data.Options) (*data.Dataset, []string, error) {
	if o.Kind == data.KindHDF5 {
		return hdf5.LoadFunc(o)
	}
	return data.LoadSource(o)
}

// prepared is what prepare prints with --json: the metadata plus where it
// went and whether the cache served it.
type prepared struct {
	*data.Meta
	Dir       string  `json:"dir"`
	CacheHit  bool    `json:"cache_hit"`
	ElapsedMS float64 `json:"elapsed_ms"`
}

func runPrepare(stdout, stderr io.Writer, f prepareFlags) error {
	t0 := time.Now()
	o, err := f.options()
	if err != nil {
		return err
	}
	var c *data.Cache
	if !f.noCache {
		c = &data.Cache{Dir: f.cacheDir, Warn: func(m string) { fmt.Fprintln(stderr, "warning:", m) }}
	}
	r, err := c.Prepare(o, loader, f.out)
	if err != nil {
		return err
	}
	p := prepared{Meta: r.Meta, Dir: r.Dir, CacheHit: r.Hit, ElapsedMS: float64(time.Since(t0).Microseconds()) / 1000}
	if f.jsonOut {
		return writeJSON(stdout, p)
	}
	how := "built"
	if r.Hit {
		how = "from cache"
	}
	fmt.Fprintf(stdout, "prepared %s -> %s (%s, %.0f ms)\n", r.Meta.Name, r.Dir, how, p.ElapsedMS)
	printMeta(stdout, r.Meta)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func printMeta(w io.Writer, m *data.Meta) {
	fmt.Fprintf(w, "  sha256         %s\n", m.SHA256)
	fmt.Fprintf(w, "  source         %s (%d files, source sha256 %s)\n", m.Source, len(m.SourceFiles), short(m.SourceSHA256))
	fmt.Fprintf(w, "  samples        %d (train %d, validation %d, test %d)\n", m.Count, m.SplitCounts.Train, m.SplitCounts.Validation, m.SplitCounts.Test)
	split := m.Split.Mode
	if m.Split.Mode == "ratio" {
		split = fmt.Sprintf("ratio %d/%d/%d ppm, seed %d, stratified %v", m.Split.TrainPPM, m.Split.ValidationPPM, m.Split.TestPPM, m.Split.Seed, m.Split.Stratified)
	}
	fmt.Fprintf(w, "  split          %s\n", split)
	fmt.Fprintf(w, "  shape          %v %s\n", m.Shape, m.DType)
	names := m.ClassNames
	if len(names) > 12 {
		names = append(names[:12:12], fmt.Sprintf("... (%d more)", len(m.ClassNames)-12))
	}
	fmt.Fprintf(w, "  classes        %d: %s\n", m.Classes, strings.Join(names, ", "))
	hist := m.LabelHistogram
	suffix := ""
	if len(hist) > 20 {
		hist, suffix = hist[:20], " ..."
	}
	fmt.Fprintf(w, "  histogram      %v%s\n", hist, suffix)
	if len(m.Preprocessing) == 0 {
		fmt.Fprintf(w, "  preprocessing  none\n")
	}
	for _, s := range m.Preprocessing {
		switch s.Op {
		case "normalize":
			fmt.Fprintf(w, "  preprocessing  normalize per channel (%d), stats from %s: mean %s std %s\n", s.Channels, s.Split, floats(s.Mean), floats(s.Std))
		default:
			fmt.Fprintf(w, "  preprocessing  %s (%s)\n", s.Op, s.Scale)
		}
	}
	fmt.Fprintf(w, "  bytes          %d\n", m.Bytes)
}

func floats(v []float64) string {
	var parts []string
	for i, x := range v {
		if i == 6 {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, strconv.FormatFloat(x, 'g', 5, 64))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "..."
	}
	return s
}

func newInfoCmd() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "info DIR",
		Short: "Verify a prepared dataset against its sha256 and print its metadata",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t0 := time.Now()
			_, m, err := data.Load(args[0])
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(cmd.OutOrStdout(), prepared{Meta: m, Dir: args[0], ElapsedMS: float64(time.Since(t0).Microseconds()) / 1000})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, verified in %.0f ms\n", args[0], m.Name, float64(time.Since(t0).Microseconds())/1000)
			printMeta(cmd.OutOrStdout(), m)
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the metadata as JSON")
	return cmd
}
