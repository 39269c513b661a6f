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
// "mlp 784-32-10 sgd lr 0.1 batch 64 x1 epoch".
func (c ModelConfig) Describe() string {
	layers := make([]string, len(c.Layers))
	for i, l := range c.Layers {
		layers[i] = fmt.Sprint(l)
	}
	opt := strings.ToLower(strings.TrimPrefix(c.Optimizer.String(), "OPTIMIZER_"))
	s := fmt.Sprintf("%s %s %s lr %s batch %d, %d epoch", c.Architecture, strings.Join(layers, "-"), opt, FormatE9(c.LearningRateE9), c.BatchSize, c.Epochs)
	if c.Epochs != 1 {
		s += "s"
	}
	if c.Precision != PRECISION_UNSPECIFIED && c.Precision != PRECISION_FP32 {
		s += ", " + strings.ToLower(strings.TrimPrefix(c.Precision.String(), "PRECISION_"))
	}
	return s
}

// MetricName is the metric's lower-case name ("accuracy", "f1_macro").
func (m Metric) Name() string {
	return strings.ToLower(strings.TrimPrefix(m.String(), "METRIC_"))
}
