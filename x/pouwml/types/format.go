package types

import (
	"fmt"
	"strings"
)

// FormatPercentPPM renders a metric in parts per million as a percentage
// with two decimals, rounded half up with integers only ("91.12%"): what
// people read in tables. JSON output keeps the exact ppm integers.
func FormatPercentPPM(ppm uint64) string {
	hundredths := (ppm + 50) / 100 // 1 ppm = 0.0001%; 100 ppm = 0.01%
	return fmt.Sprintf("%d.%02d%%", hundredths/100, hundredths%100)
}

// FormatPointsPPM renders a spread in ppm as percentage points with two
// decimals ("0.24"), for "mean ± std" cells.
func FormatPointsPPM(ppm uint64) string {
	hundredths := (ppm + 50) / 100
	return fmt.Sprintf("%d.%02d", hundredths/100, hundredths%100)
}

// FormatE9 renders a fixed-point value in units of 1e-9 (learning rates,
// momentum) as a short decimal ("0.1", "0.00025").
func FormatE9(v uint64) string {
	s := fmt.Sprintf("%d.%09d", v/1_000_000_000, v%1_000_000_000)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// Describe is a one-line summary of a model configuration for tables:
// "mlp 784-32-10, sgd lr 0.1 batch 64, 1 epoch". The layers are spelled out
// per architecture (ModelConfig.layers in types.proto):
//
//	mlp 784-32-10                      widths
//	cnn 16-32                          channels of each block
//	resnet basic 3.3.3 width 16        block, blocks per stage, base width
//	transformer 4x256x8 vocab 256 mlp 4 causal sin-pos last-token
//	                                   layers x dim x heads, flags when set
//	vit patch 4 6x192x3 mlp 4          patch, layers x dim x heads
//
// A configuration whose layers do not decode is shown with its raw layers
// and "(invalid layers)".
func (c ModelConfig) Describe() string {
	opt := strings.ToLower(strings.TrimPrefix(c.Optimizer.String(), "OPTIMIZER_"))
	s := fmt.Sprintf("%s %s, %s lr %s batch %d, %d epoch", c.Architecture, c.DescribeLayers(), opt, FormatE9(c.LearningRateE9), c.BatchSize, c.Epochs)
	if c.Epochs != 1 {
		s += "s"
	}
	if c.Precision != PRECISION_UNSPECIFIED && c.Precision != PRECISION_FP32 {
		s += ", " + strings.ToLower(strings.TrimPrefix(c.Precision.String(), "PRECISION_"))
	}
	return s
}

// DescribeLayers spells out the layers of a configuration (see Describe).
func (c ModelConfig) DescribeLayers() string {
	raw := func(sep string) string {
		parts := make([]string, len(c.Layers))
		for i, l := range c.Layers {
			parts[i] = fmt.Sprint(l)
		}
		return strings.Join(parts, sep)
	}
	switch c.Architecture {
	case "resnet":
		r, err := c.ResNet()
		if err != nil {
			break
		}
		block := "basic"
		if r.Bottleneck {
			block = "bottleneck"
		}
		stages := make([]string, len(r.Stages))
		for i, d := range r.Stages {
			stages[i] = fmt.Sprint(d)
		}
		return fmt.Sprintf("%s %s width %d", block, strings.Join(stages, "."), r.Width)
	case "transformer", "vit":
		t, err := c.Transformer()
		if err != nil {
			break
		}
		if c.Architecture == "vit" {
			return fmt.Sprintf("patch %d %dx%dx%d mlp %d", t.Patch, t.Layers, t.Dim, t.Heads, t.MLP)
		}
		s := fmt.Sprintf("%dx%dx%d vocab %d mlp %d", t.Layers, t.Dim, t.Heads, t.Vocab, t.MLP)
		for _, f := range []struct {
			on   bool
			name string
		}{{t.Causal, "causal"}, {t.SinPos, "sin-pos"}, {t.LastHead, "last-token"}} {
			if f.on {
				s += " " + f.name
			}
		}
		return s
	default:
		return raw("-")
	}
	return raw("-") + " (invalid layers)"
}

// MetricName is the metric's lower-case name ("accuracy", "f1_macro").
func (m Metric) Name() string {
	return strings.ToLower(strings.TrimPrefix(m.String(), "METRIC_"))
}
