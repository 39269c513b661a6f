package cv

import (
	"context"
	"fmt"

	"github.com/pouw/pouwd/accel/canon"
)

func argmax(row []float32) int {
	best := 0
	for c, v := range row {
		if v > row[best] {
			best = c
		}
	}
	return best
}

// Predict returns the argmax class (lowest on ties) of each sample.
func Predict(ctx context.Context, m Model, idx []int, classes int) ([]int, error) {
	lg, err := m.Logits(ctx, idx)
	if err != nil {
		return nil, err
	}
	if len(lg) != len(idx)*classes {
		return nil, fmt.Errorf("cv: model returned %d scores for %d samples of %d classes", len(lg), len(idx), classes)
	}
	out := make([]int, len(idx))
	for i := range idx {
		out[i] = argmax(lg[i*classes : (i+1)*classes])
	}
	return out, nil
}

// Softmax writes the probabilities of one row of logits into p (float32,
// canonical: exp via canon.Exp32 of (x - max), the sum by canon.Sum,
// one division per element).
func Softmax(row, p []float32) {
	mx := row[0]
	for _, v := range row {
		if v > mx {
			mx = v
		}
	}
	for c, v := range row {
		p[c] = canon.Exp32(v - mx)
	}
	s := canon.Sum(p)
	for c := range p {
		p[c] /= s
	}
}

// Vote combines fold models on the samples idx. Soft voting averages the
// models' softmax probabilities (summed in model order) and takes the
// argmax; hard voting takes each model's argmax and the most voted class.
// Ties go to the lowest class id.
func Vote(ctx context.Context, models []Model, idx []int, classes int) (soft, hard []int, err error) {
	if len(models) == 0 {
		return nil, nil, fmt.Errorf("cv: no models to ensemble")
	}
	n := len(idx)
	prob := make([]float32, n*classes)
	votes := make([]int, n*classes)
	p := make([]float32, classes)
	for mi, m := range models {
		lg, err := m.Logits(ctx, idx)
		if err != nil {
			return nil, nil, fmt.Errorf("cv: ensemble model %d: %w", mi, err)
		}
		if len(lg) != n*classes {
			return nil, nil, fmt.Errorf("cv: ensemble model %d returned %d scores for %d samples of %d classes", mi, len(lg), n, classes)
		}
		for i := 0; i < n; i++ {
			row := lg[i*classes : (i+1)*classes]
			Softmax(row, p)
			for c := range p {
				prob[i*classes+c] += p[c]
			}
			votes[i*classes+argmax(row)]++
		}
	}
	soft, hard = make([]int, n), make([]int, n)
	for i := 0; i < n; i++ {
		soft[i] = argmax(prob[i*classes : (i+1)*classes])
		best := 0
		for c := 1; c < classes; c++ {
			if votes[i*classes+c] > votes[i*classes+best] {
				best = c
			}
		}
		hard[i] = best
	}
	return soft, hard, nil
}

// EnsembleMetrics evaluates soft and hard voting of models on idx.
func EnsembleMetrics(ctx context.Context, models []Model, idx, truth []int, classes int) (soft, hard Metrics, err error) {
	sp, hp, err := Vote(ctx, models, idx, classes)
	if err != nil {
		return Metrics{}, Metrics{}, err
	}
	if soft, err = Evaluate(classes, truth, sp); err != nil {
		return
	}
	hard, err = Evaluate(classes, truth, hp)
	return
}
