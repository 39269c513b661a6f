package ml

import (
	"fmt"

	"github.com/pouw/pouwd/accel/canon"
)

// SoftmaxCrossEntropy returns the mean cross-entropy of logits [N, K]
// against labels, as a scalar tensor.
//
// Canonical: per row, mx = max (first in order); e_j = Exp32(x_j - mx);
// s = sequential sum of e_j; loss_i = log32(s) - (x_y - mx); loss =
// canon.Sum(loss_i)/N. Backward: dx_ij = float32((e_j/s - [j = y])·(g/N))
// with g the incoming gradient.
func SoftmaxCrossEntropy(c *Ctx, logits *Tensor, labels []int) (*Tensor, error) {
	n, k := logits.Shape[0], logits.Numel()/logits.Shape[0]
	if len(labels) != n {
		return nil, fmt.Errorf("cross-entropy: %d labels for %d rows", len(labels), n)
	}
	prob := make([]float32, n*k)
	losses := make([]float32, n)
	for i := 0; i < n; i++ {
		y := labels[i]
		if y < 0 || y >= k {
			return nil, fmt.Errorf("cross-entropy: label %d of row %d, expected 0..%d", y, i, k-1)
		}
		row := logits.Data[i*k : (i+1)*k]
		mx := row[0]
		for _, v := range row[1:] {
			if v > mx {
				mx = v
			}
		}
		var s float32
		pr := prob[i*k : (i+1)*k]
		for j, v := range row {
			e := canon.Exp32(v - mx)
			pr[j] = e
			s += e
		}
		for j := range pr {
			pr[j] /= s
		}
		losses[i] = canon.Log32(s) - (row[y] - mx)
	}
	out := &Tensor{Shape: []int{1}, Data: []float32{canon.Sum(losses) / float32(n)}}
	c.record(out, []*Tensor{logits}, func() {
		g := float32(out.Grad[0] / float32(n))
		dx := logits.grad()
		for i := 0; i < n; i++ {
			for j := 0; j < k; j++ {
				p := prob[i*k+j]
				if j == labels[i] {
					p -= 1
				}
				dx[i*k+j] += float32(p * g)
			}
		}
	})
	return out, nil
}
