package mltest

import "github.com/pouw/pouwd/ml"

// The weights' SHA-256 after ml's golden runs (ml/resnet_golden_test.go,
// ml/transformer_golden_test.go say how each is trained): the same on
// every machine, thread count and device.
const (
	ResNetGolden      = "c71058edcd7ddf34fdd7e0b7d1ebdd586e50c6de431a91588c1a9c99342c5d98"
	TransformerGolden = "d4a26727aab09748ce8a235c746d3c4b311174262fb4f2a3f342eae869b78217"
	ViTGolden         = "ac28ae627e14a3473a7fe8d8e18fae02d66ebb6d2e62ab5ebeaa88c7baff775a"
)

// ResNetGoldenData is a synthetic 3x8x8, 10-class dataset: each class is a
// fixed random pattern plus per-sample noise, all drawn from ml.NewRNG
// (integer arithmetic and one float32 conversion, the same everywhere).
func ResNetGoldenData() ml.Dataset {
	const n, classes, size = 512, 10, 3 * 8 * 8
	pat := ml.NewRNG("pouw/test/resnet-golden/patterns", 1, 0, 0)
	patterns := make([]float32, classes*size)
	for i := range patterns {
		patterns[i] = pat.Float32()
	}
	r := ml.NewRNG("pouw/test/resnet-golden/samples", 1, 0, 0)
	d := ml.Dataset{X: make([]float32, n*size), Y: make([]int, n), N: n, Shape: []int{3, 8, 8}, Classes: classes}
	for i := 0; i < n; i++ {
		y := r.Intn(classes)
		d.Y[i] = y
		for j := 0; j < size; j++ {
			d.X[i*size+j] = patterns[y*size+j] + float32(0.5*r.Float32())
		}
	}
	return d
}

// TextGoldenData is a synthetic next-token task of n samples: sequences
// of 12 tokens over a vocabulary of 16 that mostly follow t' = (3t + 5)
// mod 16 (one token in 8 is random), the label being the token after the
// sequence. Everything comes from ml.NewRNG, the same on every machine.
func TextGoldenData(n int) ml.Dataset {
	const seq, vocab = 12, 16
	r := ml.NewRNG("pouw/test/text-golden", 1, 0, 0)
	d := ml.Dataset{X: make([]float32, n*seq), Y: make([]int, n), N: n, Shape: []int{seq}, Classes: vocab}
	for i := 0; i < n; i++ {
		tok := r.Intn(vocab)
		for j := 0; j <= seq; j++ {
			if j == seq {
				d.Y[i] = tok
				break
			}
			d.X[i*seq+j] = float32(tok)
			tok = (3*tok + 5) % vocab
			if r.Intn(8) == 0 {
				tok = r.Intn(vocab)
			}
		}
	}
	return d
}
