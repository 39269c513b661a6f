package data

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pouw/pouwd/ml/rng"
)

// PPM is one million: ratios are integers in parts per million.
const PPM = 1_000_000

// SplitOptions chooses the train/validation/test split.
type SplitOptions struct {
	// Mode is "official" (keep the source's own train/test split; MNIST,
	// Fashion-MNIST, CIFAR) or "ratio".
	Mode string `json:"mode"`
	// Ratios in ppm, summing to 1,000,000 (ratio mode only).
	TrainPPM      int64 `json:"train_ppm,omitempty"`
	ValidationPPM int64 `json:"validation_ppm,omitempty"`
	TestPPM       int64 `json:"test_ppm,omitempty"`
	// Seed of the numpy-compatible MT19937 shuffle (ratio mode only).
	Seed uint32 `json:"seed"`
	// Stratified keeps each class's share in every split (ratio mode only).
	Stratified bool `json:"stratified,omitempty"`
}

// ParseRatios parses "train,validation,test" as percentages ("80,10,10")
// or fractions ("0.8,0.1,0.1"), without floating point, into ppm values
// that must sum to exactly 1,000,000.
func ParseRatios(s string) (train, val, test int64, err error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("%w: split %q, expected three ratios train,validation,test", ErrOptions, s)
	}
	frac := strings.Contains(s, ".")
	var v [3]int64
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if frac {
			v[i], err = parseFraction(p)
		} else {
			var n int64
			n, err = strconv.ParseInt(p, 10, 64)
			if err == nil && (n < 0 || n > 100) {
				err = fmt.Errorf("percentage %d out of 0..100", n)
			}
			v[i] = n * 10_000
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%w: split %q: ratio %q: %v", ErrOptions, s, p, err)
		}
	}
	if v[0]+v[1]+v[2] != PPM {
		return 0, 0, 0, fmt.Errorf("%w: split %q sums to %d ppm, expected exactly 1,000,000 (100%%)", ErrOptions, s, v[0]+v[1]+v[2])
	}
	if v[0] == 0 {
		return 0, 0, 0, fmt.Errorf("%w: split %q has an empty training share", ErrOptions, s)
	}
	return v[0], v[1], v[2], nil
}

// parseFraction parses "0.8" / "1" / ".25" with at most 6 decimals into ppm.
func parseFraction(p string) (int64, error) {
	ip, fp, _ := strings.Cut(p, ".")
	if ip == "" {
		ip = "0"
	}
	if len(fp) > 6 {
		return 0, fmt.Errorf("more than 6 decimals")
	}
	i, err := strconv.ParseUint(ip, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("not a decimal fraction")
	}
	f := uint64(0)
	if fp != "" {
		f, err = strconv.ParseUint(fp+strings.Repeat("0", 6-len(fp)), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("not a decimal fraction")
		}
	}
	v := int64(i)*PPM + int64(f)
	if v > PPM {
		return 0, fmt.Errorf("above 1")
	}
	return v, nil
}

// Validate checks the options.
func (o SplitOptions) Validate() error {
	switch o.Mode {
	case "official":
		return nil
	case "ratio":
		if o.TrainPPM <= 0 || o.ValidationPPM < 0 || o.TestPPM < 0 || o.TrainPPM+o.ValidationPPM+o.TestPPM != PPM {
			return fmt.Errorf("%w: split ratios %d/%d/%d ppm, expected non-negative values summing to 1,000,000 with a training share", ErrOptions, o.TrainPPM, o.ValidationPPM, o.TestPPM)
		}
		return nil
	}
	return fmt.Errorf("%w: split mode %q, expected official or ratio", ErrOptions, o.Mode)
}

// AssignSplits returns each sample's split (Train, Validation, Test) by
// ratio. For a group of m samples the test split gets floor(m*test/1e6),
// validation floor(m*validation/1e6) and train the rest. Unstratified, the
// group is all samples in the order of numpy's
// RandomState(seed).permutation(n); the first ones go to test, then
// validation. Stratified, each class (ascending) is a group: its members in
// index order are shuffled by one shared RandomState(seed), class after
// class. Integer arithmetic only.
func AssignSplits(labels []int, classes int, o SplitOptions) ([]uint8, error) {
	if o.Mode != "ratio" {
		return nil, fmt.Errorf("%w: AssignSplits needs ratio mode, got %q", ErrOptions, o.Mode)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	n := len(labels)
	out := make([]uint8, n)
	assign := func(group []int) {
		m := int64(len(group))
		nt := int(m * o.TestPPM / PPM)
		nv := int(m * o.ValidationPPM / PPM)
		for k, i := range group {
			switch {
			case k < nt:
				out[i] = Test
			case k < nt+nv:
				out[i] = Validation
			default:
				out[i] = Train
			}
		}
	}
	if !o.Stratified {
		assign(rng.Permutation(n, o.Seed))
		return out, nil
	}
	members := make([][]int, classes)
	for i, l := range labels {
		members[l] = append(members[l], i)
	}
	r := rng.NewMT19937(o.Seed)
	for _, g := range members {
		rng.Shuffle(r, g)
		assign(g)
	}
	return out, nil
}
