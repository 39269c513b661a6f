package ml

// SyntheticDataset returns n samples for m's input drawn from the
// generator keyed by ("pouw/synthetic", seed): token ids below the
// vocabulary when m starts with a token embedding, values in [0, 1)
// otherwise, and labels below m's classes. Benchmarks and memory
// measurements train on it.
func SyntheticDataset(m *Model, n int, seed uint64) Dataset {
	size := m.SampleSize()
	vocab := 0
	if len(m.Layers) > 0 {
		if e, ok := m.Layers[0].(*Embedding); ok {
			vocab = e.V
		}
	}
	r := NewRNG("pouw/synthetic", seed, 0, 0)
	d := Dataset{X: make([]float32, n*size), Y: make([]int, n), N: n, Shape: append([]int(nil), m.InShape...), Classes: m.Spec.Classes}
	for i := range d.X {
		if vocab > 0 {
			d.X[i] = float32(r.Intn(vocab))
		} else {
			d.X[i] = r.Float32()
		}
	}
	for i := range d.Y {
		d.Y[i] = r.Intn(m.Spec.Classes)
	}
	return d
}
