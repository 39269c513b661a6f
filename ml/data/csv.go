package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// CSVOptions says how to read a CSV source.
type CSVOptions struct {
	// Label is the label column: a header name, or a 0-based index, or ""
	// for the last column.
	Label string
	// Header is "auto" (default: the first row is a header when one of its
	// feature fields is not a number, or when Label names a column), "yes"
	// or "no".
	Header string
	// Comma is the field separator; 0 means ','.
	Comma rune
}

// ParseCSV reads a CSV dataset: numeric feature columns (parsed as
// float32; NaN and Inf rejected) and one label column. Labels become class
// ids as follows: when every label is a non-negative decimal integer below
// 2^16 the integer is the class id (classes = max+1, names are the
// decimals); otherwise the distinct label strings sorted in byte order are
// classes 0..C-1. Shape [features], dtype float32, no official split.
// name is used in error messages, which give the line and column (1-based).
func ParseCSV(name string, r io.Reader, opt CSVOptions) (*Dataset, error) {
	cr := csv.NewReader(r)
	if opt.Comma != 0 {
		cr.Comma = opt.Comma
	}
	cr.ReuseRecord = true
	readErr := func(err error) error {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("%w: %s: line %d column %d: %v", ErrSource, name, pe.Line, pe.Column, pe.Err)
		}
		return fmt.Errorf("%w: %s: %v", ErrSource, name, err)
	}
	rec, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s: empty, expected rows of features and a label", ErrSource, name)
	}
	if err != nil {
		return nil, readErr(err)
	}
	first := append([]string(nil), rec...)
	ncol := len(first)
	if ncol < 2 {
		return nil, fmt.Errorf("%w: %s: line 1 has %d column, expected at least one feature and one label", ErrSource, name, ncol)
	}
	// label column
	labelCol := ncol - 1
	byName := false
	if opt.Label != "" {
		if v, err := strconv.Atoi(opt.Label); err == nil {
			if v < 0 || v >= ncol {
				return nil, fmt.Errorf("%w: %s: label column index %d, expected 0..%d", ErrOptions, name, v, ncol-1)
			}
			labelCol = v
		} else {
			byName = true
			labelCol = -1
			for i, h := range first {
				if strings.TrimSpace(h) == opt.Label {
					labelCol = i
					break
				}
			}
			if labelCol < 0 {
				return nil, fmt.Errorf("%w: %s: no column named %q in the header %q", ErrOptions, name, opt.Label, first)
			}
		}
	}
	header := false
	switch opt.Header {
	case "", "auto":
		header = byName
		if !header {
			for i, f := range first {
				if i == labelCol {
					continue
				}
				if _, err := parseFeature(f); err != nil {
					header = true
					break
				}
			}
		}
	case "yes":
		header = true
	case "no":
		if byName {
			return nil, fmt.Errorf("%w: %s: label column named %q but header=no", ErrOptions, name, opt.Label)
		}
	default:
		return nil, fmt.Errorf("%w: header %q, expected auto, yes or no", ErrOptions, opt.Header)
	}
	nf := ncol - 1
	d := &Dataset{DType: Float32, Shape: []int{nf}}
	var raw []string
	row := func(rec []string) error {
		for i, f := range rec {
			if i == labelCol {
				continue
			}
			v, err := parseFeature(f)
			if err != nil {
				line, col := cr.FieldPos(i)
				return fmt.Errorf("%w: %s: line %d column %d (field %d): %q %v", ErrSource, name, line, col, i+1, f, err)
			}
			d.F32 = append(d.F32, v)
		}
		l := strings.TrimSpace(rec[labelCol])
		if l == "" {
			line, col := cr.FieldPos(labelCol)
			return fmt.Errorf("%w: %s: line %d column %d (field %d): empty label, expected a class", ErrSource, name, line, col, labelCol+1)
		}
		raw = append(raw, l)
		return nil
	}
	if !header {
		if err := row(first); err != nil {
			return nil, err
		}
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, readErr(err)
		}
		if err := row(rec); err != nil {
			return nil, err
		}
	}
	n := len(raw)
	if n < 1 {
		return nil, fmt.Errorf("%w: %s: a header and no data rows, expected at least one sample", ErrSource, name)
	}
	d.Labels, d.ClassNames = classIDs(raw)
	d.Classes = len(d.ClassNames)
	d.Split = make([]uint8, n)
	return d, nil
}

func parseFeature(f string) (float32, error) {
	s := strings.TrimSpace(f)
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return 0, errors.New("is not a number, expected a finite decimal feature value")
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("is not finite, expected a finite decimal feature value")
	}
	if v == 0 {
		v = 0
	}
	return float32(v), nil
}

// classIDs maps label strings to class ids (see ParseCSV).
func classIDs(raw []string) ([]int, []string) {
	ints := make([]int, len(raw))
	allInt := true
	maxv := -1
	for i, s := range raw {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v >= 1<<16 || strconv.Itoa(v) != s {
			allInt = false
			break
		}
		ints[i] = v
		maxv = max(maxv, v)
	}
	if allInt {
		names := make([]string, maxv+1)
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
		return ints, names
	}
	set := map[string]int{}
	for _, s := range raw {
		set[s] = 0
	}
	names := make([]string, 0, len(set))
	for s := range set {
		names = append(names, s)
	}
	sort.Strings(names)
	for i, s := range names {
		set[s] = i
	}
	for i, s := range raw {
		ints[i] = set[s]
	}
	return ints, names
}
