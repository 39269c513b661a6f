package cv

import (
	"context"
	"fmt"
)

// Samples gives a trainer read access to feature rows.
type Samples interface {
	Len() int
	Dim() int
	Label(i int) int
	Read(i int, dst []float32)
}

// Centroid is a nearest-centroid classifier: a real, fast baseline
// Trainer (spec "centroid") with one hyperparameter, "shrink" (float in
// [0,1)): each class centroid is pulled towards the overall mean by that
// share. Scores are negative squared distances, accumulated in float64 in
// element order. It doubles as the reference trainer of the runner's tests.
type Centroid struct {
	Data    Samples
	Classes int
}

// Schema implements Trainer.
func (c *Centroid) Schema() Schema { return Schema{"shrink": Float} }

// Fit implements Trainer.
func (c *Centroid) Fit(ctx context.Context, cfg Config, train []int, progress func(done, total int)) (Model, error) {
	if cfg.Model != "centroid" {
		return nil, fmt.Errorf("cv: centroid trainer cannot build model %q, expected \"centroid\"", cfg.Model)
	}
	shrink := 0.0
	if v, ok := cfg.Get("shrink"); ok {
		shrink = v.F
	}
	if shrink < 0 || shrink >= 1 {
		return nil, fmt.Errorf("cv: shrink %v, expected 0 <= shrink < 1", shrink)
	}
	d, k := c.Data.Dim(), c.Classes
	sum := make([]float64, k*d)
	all := make([]float64, d)
	cnt := make([]int, k)
	row := make([]float32, d)
	for j, i := range train {
		if j%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			progress(j, len(train))
		}
		c.Data.Read(i, row)
		l := c.Data.Label(i)
		cnt[l]++
		for e, v := range row {
			sum[l*d+e] += float64(v)
			all[e] += float64(v)
		}
	}
	progress(len(train), len(train))
	m := &centroidModel{data: c.Data, k: k, d: d, cent: make([]float64, k*d)}
	for l := 0; l < k; l++ {
		for e := 0; e < d; e++ {
			mean := all[e] / float64(len(train))
			if cnt[l] == 0 {
				m.cent[l*d+e] = mean
				continue
			}
			cm := sum[l*d+e] / float64(cnt[l])
			m.cent[l*d+e] = cm + shrink*(mean-cm)
		}
	}
	return m, nil
}

type centroidModel struct {
	data Samples
	k, d int
	cent []float64
}

func (m *centroidModel) NumParams() int { return m.k * m.d }

func (m *centroidModel) Logits(ctx context.Context, idx []int) ([]float32, error) {
	out := make([]float32, len(idx)*m.k)
	row := make([]float32, m.d)
	for j, i := range idx {
		if j%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.data.Read(i, row)
		for l := 0; l < m.k; l++ {
			var s float64
			c := m.cent[l*m.d : (l+1)*m.d]
			for e, v := range row {
				x := float64(v) - c[e]
				s += float64(x * x)
			}
			out[j*m.k+l] = float32(-s)
		}
	}
	return out, nil
}
