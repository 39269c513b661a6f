package types

import (
	"strings"
	"testing"
)

func cfg(arch string, layers ...uint32) ModelConfig {
	return ModelConfig{Architecture: arch, Layers: layers, LearningRateE9: 100_000_000, BatchSize: 64, Epochs: 1,
		Optimizer: OPTIMIZER_SGD, Precision: PRECISION_FP32}
}

// TestModelParams checks the counts against PyTorch's (torchvision's
// ResNets, ml/testdata/resnet_params.json) and against the formulas worked
// out by hand; jobspec's TestModelParamsMatchEngine compares every
// architecture with the engine itself.
func TestModelParams(t *testing.T) {
	// One transformer layer of width d and MLP ratio r: 2d + (3d²+3d) + (d²+d) + 2d + (r·d²+r·d) + (r·d²+d).
	layer := func(d, r uint64) uint64 { return 2*d + 3*d*d + 3*d + d*d + d + 2*d + r*d*d + r*d + r*d*d + d }
	for _, tc := range []struct {
		name    string
		c       ModelConfig
		shape   []uint32
		classes uint32
		want    uint64
	}{
		{"mlp 784-128-10", cfg("mlp", 784, 128, 10), []uint32{1, 28, 28}, 10, 784*128 + 128 + 128*10 + 10},
		{"cnn:1x28x28-2x8-10", cfg("cnn", 8, 16), []uint32{1, 28, 28}, 10, 9098},
		{"cnn odd sizes", cfg("cnn", 2, 4), []uint32{3, 9, 5}, 3, (3*2*9 + 2) + (2*4*9 + 4) + 4*2*1*3 + 3},
		{"resnet20", cfg("resnet", 1, 16, 3, 3, 3), []uint32{3, 32, 32}, 10, 272474},
		{"resnet20 width 4, 100 classes", cfg("resnet", 1, 64, 3, 3, 3), []uint32{3, 32, 32}, 100, 4350884},
		{"basic 1.1 width 4", cfg("resnet", 1, 4, 1, 1), []uint32{3, 8, 8}, 5, 1409},
		{"bottleneck 1.1 width 2", cfg("resnet", 2, 2, 1, 1), []uint32{3, 8, 8}, 5, 703},
		{"resnet18", cfg("resnet", 1, 64, 2, 2, 2, 2), []uint32{3, 224, 224}, 1000, 11689512},
		{"resnet18 width 2, 200 classes", cfg("resnet", 1, 128, 2, 2, 2, 2), []uint32{3, 64, 64}, 200, 44873032},
		{"resnet34", cfg("resnet", 1, 64, 3, 4, 6, 3), []uint32{3, 224, 224}, 1000, 21797672},
		{"resnet50", cfg("resnet", 2, 64, 3, 4, 6, 3), []uint32{3, 224, 224}, 1000, 25557032},
		{"resnet50 on 32x32 (the count does not depend on H, W)", cfg("resnet", 2, 64, 3, 4, 6, 3), []uint32{3, 32, 32}, 1000, 25557032},
		{"resnet101", cfg("resnet", 2, 64, 3, 4, 23, 3), []uint32{3, 224, 224}, 1000, 44549160},
		{"resnet50 width 3", cfg("resnet", 2, 192, 3, 4, 6, 3), []uint32{3, 224, 224}, 1000, 217342120},
		{"transformer defaults", cfg("transformer", 1, 8, 2, 16), []uint32{8}, 4, 16*8 + 8*8 + layer(8, 4) + 16 + 8*4 + 4},
		{"transformer 6 entries, flags 0", cfg("transformer", 2, 32, 4, 256, 4, 0), []uint32{64}, 256, 256*32 + 64*32 + 2*layer(32, 4) + 64 + 32*256 + 256},
		{"transformer sinusoidal (no position table)", cfg("transformer", 2, 32, 4, 256, 2, 2), []uint32{64}, 256, 256*32 + 2*layer(32, 2) + 64 + 32*256 + 256},
		{"transformer causal, last head", cfg("transformer", 2, 32, 4, 256, 2, 5), []uint32{64}, 256, 256*32 + 64*32 + 2*layer(32, 2) + 64 + 32*256 + 256},
		{"vit 3x32x32 patch 4", cfg("vit", 4, 6, 192, 3), []uint32{3, 32, 32}, 10, 3*16*192 + 192 + 64*192 + 6*layer(192, 4) + 2*192 + 192*10 + 10},
		{"vit 1x28x28 patch 7 mlp 3", cfg("vit", 7, 1, 8, 1, 3), []uint32{1, 28, 28}, 10, 49*8 + 8 + 16*8 + layer(8, 3) + 16 + 8*10 + 10},
	} {
		if err := ValidateModelConfig(tc.c); err != nil {
			t.Errorf("%s: invalid: %v", tc.name, err)
		}
		got, err := ModelParams(tc.c, tc.shape, tc.classes)
		if err != nil || got != tc.want {
			t.Errorf("%s: ModelParams = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
}

func TestModelParamsErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c       ModelConfig
		shape   []uint32
		classes uint32
		want    string // part of the error
	}{
		{"mlp input", cfg("mlp", 780, 10), []uint32{1, 28, 28}, 10, "layers[0] = 780 must be the product"},
		{"mlp output", cfg("mlp", 784, 9), []uint32{1, 28, 28}, 10, "must be the dataset's class count 10"},
		{"cnn on vectors", cfg("cnn", 8), []uint32{784}, 10, "cnn needs [C,H,W] samples"},
		{"cnn pools below 1 pixel", cfg("cnn", 1, 2, 4), []uint32{1, 4, 4}, 10, "cnn block 2's 2x2 pool"},
		{"resnet on vectors", cfg("resnet", 1, 8, 1), []uint32{784}, 10, "resnet needs [C,H,W] samples"},
		{"resnet bad block", cfg("resnet", 3, 8, 1), []uint32{1, 28, 28}, 10, "BLOCK) must be 1 (basic) or 2 (bottleneck)"},
		{"resnet overflow", cfg("resnet", 2, MaxResNetWidth, MaxLayerSize, MaxLayerSize, MaxLayerSize, MaxLayerSize, MaxLayerSize, MaxLayerSize, MaxLayerSize, MaxLayerSize), []uint32{3, 224, 224}, 1000, "more than 2^64 parameters"},
		{"transformer on images", cfg("transformer", 1, 8, 2, 16), []uint32{1, 28, 28}, 10, "samples of shape [SEQ]"},
		{"transformer sequence too long", cfg("transformer", 1, 8, 2, 16), []uint32{MaxTokens + 1}, 10, "at most 4096 tokens"},
		{"vit patch does not divide", cfg("vit", 5, 1, 8, 1), []uint32{1, 28, 28}, 10, "must divide the dataset's image 28x28"},
		{"vit too many patches", cfg("vit", 1, 1, 8, 1), []uint32{1, 65, 64}, 10, "4160 patches"},
		{"vit on vectors", cfg("vit", 1, 1, 8, 1), []uint32{64}, 10, "vit needs [C,H,W] samples"},
		{"zero dimension", cfg("mlp", 1, 10), []uint32{0}, 10, "zero dimension"},
		{"no classes", cfg("mlp", 4, 1), []uint32{4}, 0, "no classes"},
		{"unknown architecture", cfg("svm", 4, 1), []uint32{4}, 2, "architecture must be one of"},
	} {
		n, err := ModelParams(tc.c, tc.shape, tc.classes)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ModelParams = %d, %v; want an error with %q", tc.name, n, err, tc.want)
		}
	}
}

func TestValidateModelConfigLayers(t *testing.T) {
	valid := []ModelConfig{
		cfg("mlp", 4, 3),
		cfg("cnn", 8, 16, 32),
		cfg("cnn", 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768),
		cfg("resnet", 1, 16, 3),
		cfg("resnet", 2, MaxResNetWidth, 1, 1, 1, 1, 1, 1, 1, 1),
		cfg("transformer", 1, 8, 2, 1),
		cfg("transformer", 1, 8, 8, 256, 1),
		cfg("transformer", MaxTransformerLayers, MaxTransformerDim, 16, MaxVocab, MaxMLPRatio, 7),
		cfg("transformer", 1, 8, 2, 16, 4, 0),
		cfg("vit", 4, 1, 8, 2),
		cfg("vit", 4, 1, 8, 2, 16),
	}
	for _, c := range valid {
		if err := ValidateModelConfig(c); err != nil {
			t.Errorf("%s %v: %v", c.Architecture, c.Layers, err)
		}
	}
	for _, tc := range []struct {
		c    ModelConfig
		want string
	}{
		{cfg("mlp", 784), "at least 2 entries"},
		{cfg("cnn", 8, 8), "cnn layers[1] must be 16"},
		{cfg("cnn", 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536), "1 to 16 block widths"},
		{cfg("resnet", 1, 16), "3 to 10 entries"},
		{cfg("resnet", 1, 16, 1, 1, 1, 1, 1, 1, 1, 1, 1), "3 to 10 entries"},
		{cfg("resnet", 0, 16, 1), "resnet layers[0] (BLOCK) must be 1 (basic) or 2 (bottleneck), got 0"},
		{cfg("resnet", 3, 16, 1), "resnet layers[0] (BLOCK) must be 1 (basic) or 2 (bottleneck), got 3"},
		{cfg("resnet", 1, MaxResNetWidth+1, 1), "resnet layers[1] (WIDTH) must be in [1, 65536]"},
		{cfg("transformer", 1, 8, 2), "4 to 6 entries"},
		{cfg("transformer", 1, 8, 2, 16, 4, 0, 1), "4 to 6 entries"},
		{cfg("transformer", 1, 8, 3, 16), "transformer layers[2] (HEADS) must divide DIM 8, got 3"},
		{cfg("transformer", MaxTransformerLayers+1, 8, 2, 16), "transformer layers[0] (LAYERS) must be in [1, 96]"},
		{cfg("transformer", 1, MaxTransformerDim*2, 2, 16), "transformer layers[1] (DIM) must be in [1, 16384]"},
		{cfg("transformer", 1, 8, 2, MaxVocab+1), "transformer layers[3] (VOCAB) must be in [1, 1048576]"},
		{cfg("transformer", 1, 8, 2, 16, MaxMLPRatio+1), "transformer layers[4] (MLP_RATIO) must be in [1, 16]"},
		{cfg("transformer", 1, 8, 2, 16, 0), "transformer layers[4] (MLP_RATIO) must be in [1, 16], got 0"},
		{cfg("mlp", 784, 0, 10), "mlp layers[1] must be in [1, 1048576], got 0"},
		{cfg("cnn", 0, 0), "cnn layers[0] must be in [1, 1048576], got 0"},
		{cfg("mlp", 784, MaxLayerSize+1, 10), "mlp layers[1] must be in [1, 1048576]"},
		{cfg("transformer", 1, 8, 2, 16, 4, 8), "transformer layers[5] (FLAGS) must be a bit set"},
		{cfg("vit", 4, 1, 8), "4 or 5 entries"},
		{cfg("vit", 4, 1, 8, 2, 4, 0), "4 or 5 entries"},
		{cfg("vit", 4, 1, 8, 3), "vit layers[3] (HEADS) must divide DIM 8, got 3"},
		{cfg("vit", 4, 1, 8, 2, 17), "vit layers[4] (MLP_RATIO) must be in [1, 16]"},
	} {
		err := ValidateModelConfig(tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v; want an error with %q", tc.c.Architecture, tc.c.Layers, err, tc.want)
		}
		if _, err := ModelParams(tc.c, []uint32{3, 32, 32}, 10); err == nil {
			t.Errorf("%s %v: ModelParams accepts an invalid layout", tc.c.Architecture, tc.c.Layers)
		}
	}
}

func TestDatasetModelParams(t *testing.T) {
	text := Dataset{Id: 2, Format: DATASET_FORMAT_TEXT, FeatureShape: []uint32{64}, NumClasses: TextClasses}
	if n, err := DatasetModelParams(cfg("transformer", 1, 16, 2, 256), text); err != nil || n == 0 {
		t.Fatalf("byte-level transformer: %d, %v", n, err)
	}
	if _, err := DatasetModelParams(cfg("transformer", 1, 16, 2, 255), text); err == nil || !strings.Contains(err.Error(), "VOCAB must be at least 256") {
		t.Fatalf("vocabulary below the bytes: %v", err)
	}
	csv := Dataset{Id: 3, Format: DATASET_FORMAT_CSV, FeatureShape: []uint32{64}, NumClasses: 3}
	if _, err := DatasetModelParams(cfg("transformer", 1, 16, 2, 16), csv); err != nil {
		t.Fatalf("token ids in a csv: %v", err)
	}
}

// FuzzModelParams: whatever the layers and shape, ModelParams neither
// panics nor accepts a configuration whose layers are invalid, and an
// accepted count is at least the classifier's.
func FuzzModelParams(f *testing.F) {
	f.Add(uint8(0), []byte{0x10, 0x03, 0x00, 0x00, 0x80, 0, 0, 0, 10, 0, 0, 0}, uint32(1), uint32(28), uint32(28), uint32(10))
	f.Add(uint8(2), []byte{1, 0, 0, 0, 16, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0}, uint32(3), uint32(32), uint32(32), uint32(10))
	f.Add(uint8(3), []byte{2, 0, 0, 0, 32, 0, 0, 0, 4, 0, 0, 0, 0, 1, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0}, uint32(64), uint32(0), uint32(0), uint32(256))
	f.Add(uint8(4), []byte{7, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0}, uint32(1), uint32(28), uint32(28), uint32(10))
	f.Fuzz(func(t *testing.T, arch uint8, raw []byte, d0, d1, d2, classes uint32) {
		c := ModelConfig{Architecture: Architectures[int(arch)%len(Architectures)]}
		for i := 0; i+4 <= len(raw) && len(c.Layers) < 12; i += 4 {
			c.Layers = append(c.Layers, uint32(raw[i])|uint32(raw[i+1])<<8|uint32(raw[i+2])<<16|uint32(raw[i+3])<<24)
		}
		shape := []uint32{d0, d1, d2}
		if d1 == 0 && d2 == 0 {
			shape = shape[:1]
		}
		n, err := ModelParams(c, shape, classes)
		if err != nil {
			return
		}
		if validateLayers(c) != nil {
			t.Fatalf("%s %v: counted %d parameters of invalid layers", c.Architecture, c.Layers, n)
		}
		if n < uint64(classes) {
			t.Fatalf("%s %v: %d parameters, fewer than the %d classes' biases", c.Architecture, c.Layers, n, classes)
		}
		if m, _ := ModelParams(c, shape, classes); m != n {
			t.Fatalf("not deterministic: %d then %d", n, m)
		}
	})
}
