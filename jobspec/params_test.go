package jobspec

import (
	"fmt"
	"testing"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// paramCase is a configuration over a dataset shape and class count.
type paramCase struct {
	arch    string
	layers  []uint32
	shape   []int
	classes int
}

// TestModelParamsMatchEngine builds every configuration with the engine
// and requires the chain's exact count (types.ModelParams) to equal
// ml.Model.NumParams: the chain's max_model_params limit is about the
// very model the miners train.
func TestModelParamsMatchEngine(t *testing.T) {
	check := func(t *testing.T, cases []paramCase) {
		for _, tc := range cases {
			c := types.ModelConfig{Architecture: tc.arch, Layers: tc.layers}
			name := fmt.Sprintf("%s%v@%v/%d", tc.arch, tc.layers, tc.shape, tc.classes)
			spec, err := ModelSpec(c, tc.shape, tc.classes)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			shape := make([]uint32, len(tc.shape))
			for i, d := range tc.shape {
				shape[i] = uint32(d)
			}
			want, err := types.ModelParams(c, shape, uint32(tc.classes))
			if err != nil {
				t.Errorf("%s: ModelParams: %v", name, err)
				continue
			}
			m, err := ml.NewModel(spec, 1)
			if err != nil {
				t.Errorf("%s: ml.NewModel(%q): %v", name, spec, err)
				continue
			}
			if got := uint64(m.NumParams()); got != want {
				t.Errorf("%s (%s): engine has %d parameters, types.ModelParams says %d", name, spec, got, want)
			}
		}
	}
	t.Run("mlp-cnn-resnet", func(t *testing.T) {
		check(t, []paramCase{
			{"mlp", []uint32{784, 128, 10}, []int{1, 28, 28}, 10},
			{"mlp", []uint32{4, 3}, []int{4}, 3},
			{"mlp", []uint32{3072, 512, 256, 100}, []int{3, 32, 32}, 100},
			{"mlp", []uint32{64, 256}, []int{64}, 256},
			{"cnn", []uint32{8, 16}, []int{1, 28, 28}, 10},
			{"cnn", []uint32{16}, []int{3, 32, 32}, 10},
			{"cnn", []uint32{4, 8, 16, 32, 64}, []int{3, 32, 32}, 100},
			{"cnn", []uint32{3, 6, 12}, []int{2, 9, 13}, 7},
			{"resnet", []uint32{1, 16, 3, 3, 3}, []int{3, 32, 32}, 10},        // resnet20
			{"resnet", []uint32{1, 4, 1, 1}, []int{3, 8, 8}, 5},               // cifar stem, 2 stages
			{"resnet", []uint32{2, 2, 1, 1}, []int{3, 8, 8}, 5},               // bottleneck
			{"resnet", []uint32{2, 4, 2, 2, 2}, []int{3, 16, 16}, 10},         // bottleneck, 3 stages
			{"resnet", []uint32{1, 8, 1, 1, 1, 1}, []int{3, 32, 32}, 10},      // 4 stages: imagenet stem
			{"resnet", []uint32{2, 4, 1, 2, 1, 1}, []int{1, 28, 28}, 10},      // bottleneck, imagenet stem
			{"resnet", []uint32{1, 2, 1, 1, 1, 1, 1, 1}, []int{3, 16, 16}, 3}, // 6 stages
			{"resnet", []uint32{1, 8, 2}, []int{1, 28, 28}, 10},               // one stage, no downsampling
			{"resnet", []uint32{1, 3, 1, 1}, []int{5, 7, 9}, 4},               // odd sizes
		})
	})
	t.Run("transformer-vit", func(t *testing.T) {
		check(t, []paramCase{
			{"transformer", []uint32{1, 8, 2, 16}, []int{8}, 4},
			{"transformer", []uint32{2, 32, 4, 256}, []int{16}, 256},
			{"transformer", []uint32{2, 32, 4, 256, 4, 0}, []int{16}, 256},
			{"transformer", []uint32{1, 12, 3, 50, 2}, []int{8}, 5},
			{"transformer", []uint32{1, 12, 3, 50, 4, 1}, []int{8}, 5}, // causal
			{"transformer", []uint32{1, 12, 3, 50, 4, 2}, []int{8}, 5}, // sinusoidal positions
			{"transformer", []uint32{1, 12, 3, 50, 4, 4}, []int{8}, 5}, // last-token head
			{"transformer", []uint32{3, 16, 4, 256, 1, 7}, []int{32}, 256},
			{"transformer", []uint32{1, 8, 8, 1, 16, 3}, []int{1}, 2},
			{"vit", []uint32{4, 2, 16, 2}, []int{3, 8, 8}, 10},
			{"vit", []uint32{7, 1, 8, 1, 3}, []int{1, 28, 28}, 10},
			{"vit", []uint32{4, 2, 24, 3, 2}, []int{3, 32, 32}, 100},
			{"vit", []uint32{1, 1, 4, 2, 1}, []int{2, 3, 5}, 3}, // 1x1 patches
			{"vit", []uint32{2, 1, 8, 4}, []int{3, 4, 6}, 7},    // rectangular image
		})
	})
}

// TestModelParamsEngineLimits: the chain's largest transformer and vit
// layouts are specs the engine accepts, and its bounds are the engine's.
func TestModelParamsEngineLimits(t *testing.T) {
	for _, tc := range []paramCase{
		{"transformer", []uint32{types.MaxTransformerLayers, types.MaxTransformerDim, 1, types.MaxVocab, types.MaxMLPRatio, types.TransformerFlags}, []int{types.MaxTokens}, 2},
		{"vit", []uint32{1, types.MaxTransformerLayers, types.MaxTransformerDim, types.MaxTransformerDim, types.MaxMLPRatio}, []int{3, 64, 64}, 2},
		{"resnet", []uint32{2, types.MaxResNetWidth, 1, 1, 1, 1, 1, 1, 1, 1}, []int{3, 64, 64}, 2},
	} {
		c := types.ModelConfig{Architecture: tc.arch, Layers: tc.layers}
		spec, err := ModelSpec(c, tc.shape, tc.classes)
		if err != nil {
			t.Fatalf("%s%v: %v", tc.arch, tc.layers, err)
		}
		if _, err := ml.ParseSpec(spec); err != nil {
			t.Errorf("the engine refuses the chain's largest %s: %v", tc.arch, err)
		}
	}
	// One past each bound: the chain refuses, and so does the engine.
	for _, spec := range []string{
		fmt.Sprintf("transformer:8-16-%dx8x2-4", types.MaxTransformerLayers+1),
		fmt.Sprintf("transformer:8-16-1x%dx2-4", 2*types.MaxTransformerDim),
		fmt.Sprintf("transformer:8-%d-1x8x2-4", types.MaxVocab+1),
		fmt.Sprintf("transformer:%d-16-1x8x2-4", types.MaxTokens+1),
		fmt.Sprintf("transformer:8-16-1x8x2-4,mlp=%d", types.MaxMLPRatio+1),
		"vit:1x65x64-1-1x8x2-4", // 4160 patches
	} {
		if _, err := ml.ParseSpec(spec); err == nil {
			t.Errorf("the engine accepts %q beyond the chain's bounds", spec)
		}
	}
}
