package types

import "testing"

func TestFormatPPM(t *testing.T) {
	for _, c := range []struct {
		ppm          uint64
		percent, pts string
	}{
		{911166, "91.12%", "91.12"},
		{2393, "0.24%", "0.24"},
		{0, "0.00%", "0.00"},
		{1_000_000, "100.00%", "100.00"},
		{999_950, "100.00%", "100.00"}, // rounds half up
		{999_949, "99.99%", "99.99"},
		{49, "0.00%", "0.00"},
		{50, "0.01%", "0.01"},
	} {
		if got := FormatPercentPPM(c.ppm); got != c.percent {
			t.Errorf("FormatPercentPPM(%d) = %q, expected %q", c.ppm, got, c.percent)
		}
		if got := FormatPointsPPM(c.ppm); got != c.pts {
			t.Errorf("FormatPointsPPM(%d) = %q, expected %q", c.ppm, got, c.pts)
		}
	}
	for v, want := range map[uint64]string{100_000_000: "0.1", 250_000: "0.00025", 1_000_000_000: "1", 1_500_000_000: "1.5"} {
		if got := FormatE9(v); got != want {
			t.Errorf("FormatE9(%d) = %q, expected %q", v, got, want)
		}
	}
	c := ModelConfig{Architecture: "mlp", Layers: []uint32{784, 32, 10}, LearningRateE9: 100_000_000, BatchSize: 64, Epochs: 1, Optimizer: OPTIMIZER_SGD, Precision: PRECISION_BF16}
	if got, want := c.Describe(), "mlp 784-32-10, sgd lr 0.1 batch 64, 1 epoch, bf16"; got != want {
		t.Errorf("Describe = %q, expected %q", got, want)
	}
	for _, tc := range []struct {
		arch   string
		layers []uint32
		want   string
	}{
		{"cnn", []uint32{16, 32}, "cnn 16-32"},
		{"resnet", []uint32{1, 16, 3, 3, 3}, "resnet basic 3.3.3 width 16"},
		{"resnet", []uint32{2, 64, 3, 4, 6, 3}, "resnet bottleneck 3.4.6.3 width 64"},
		{"transformer", []uint32{4, 256, 8, 256}, "transformer 4x256x8 vocab 256 mlp 4"},
		{"transformer", []uint32{4, 256, 8, 256, 2, 7}, "transformer 4x256x8 vocab 256 mlp 2 causal sin-pos last-token"},
		{"transformer", []uint32{4, 256, 8, 256, 4, 4}, "transformer 4x256x8 vocab 256 mlp 4 last-token"},
		{"vit", []uint32{4, 6, 192, 3}, "vit patch 4 6x192x3 mlp 4"},
		{"vit", []uint32{4, 6, 192, 3, 2}, "vit patch 4 6x192x3 mlp 2"},
		{"transformer", []uint32{4, 256, 7}, "transformer 4-256-7 (invalid layers)"},
		{"resnet", []uint32{5, 16, 3}, "resnet 5-16-3 (invalid layers)"},
	} {
		c := ModelConfig{Architecture: tc.arch, Layers: tc.layers, LearningRateE9: 1_000_000, BatchSize: 32, Epochs: 3, Optimizer: OPTIMIZER_ADAMW}
		if got, want := c.Describe(), tc.want+", adamw lr 0.001 batch 32, 3 epochs"; got != want {
			t.Errorf("Describe = %q, expected %q", got, want)
		}
	}
	if got := METRIC_F1_MACRO.Name(); got != "f1_macro" {
		t.Errorf("Metric name %q", got)
	}
}
