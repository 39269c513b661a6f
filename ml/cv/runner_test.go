package cv

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// blobs is a real (synthetic) dataset: k classes around distinct centres
// with deterministic pseudo-random spread.
type blobs struct {
	n, d, k int
	x       []float32
	y       []int
}

func newBlobs(n, d, k int, spread float32) *blobs {
	b := &blobs{n: n, d: d, k: k, x: make([]float32, n*d), y: make([]int, n)}
	r := NewMT19937(99)
	for i := 0; i < n; i++ {
		l := int(r.Interval(uint64(k - 1)))
		b.y[i] = l
		for e := 0; e < d; e++ {
			centre := float32((l*7+e*3)%5) * 2
			noise := (float32(r.Uint32()%2000)/1000 - 1) * spread
			b.x[i*d+e] = centre + noise
		}
	}
	return b
}

func (b *blobs) Len() int                  { return b.n }
func (b *blobs) Dim() int                  { return b.d }
func (b *blobs) Label(i int) int           { return b.y[i] }
func (b *blobs) Read(i int, dst []float32) { copy(dst, b.x[i*b.d:(i+1)*b.d]) }

func TestGrid(t *testing.T) {
	schema := Schema{"lr": Float, "batch": Int, "opt": String}
	g, err := ParseGrid([]string{"lr=0.1,0.05", "batch=32,64,128"}, schema)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Expand([]string{"mlp:a", "cnn:b"}, g)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 12 || cs[0].String() != "mlp:a lr=0.1 batch=32" || cs[1].String() != "mlp:a lr=0.1 batch=64" || cs[6].String() != "cnn:b lr=0.1 batch=32" {
		t.Fatalf("expansion: %v", cs)
	}
	if v, _ := cs[4].Get("batch"); v.I != 64 || v.Kind != Int {
		t.Fatalf("typed value %+v", v)
	}
	for _, bad := range [][]string{{"lr=fast"}, {"batch=1.5"}, {"momentum=0.9"}, {"lr"}, {"lr=0.1,0.1"}, {"lr=0.1", "lr=0.2"}} {
		if _, err := ParseGrid(bad, schema); err == nil {
			t.Errorf("ParseGrid(%q) accepted", bad)
		}
	}
	if cs, _ := Expand([]string{"m"}, nil); len(cs) != 1 {
		t.Fatal("empty grid")
	}
}

func TestRunDeterministicAndRanked(t *testing.T) {
	data := newBlobs(600, 8, 4, 3)
	tr := &Centroid{Data: data, Classes: 4}
	g, _ := ParseGrid([]string{"shrink=0,0.5,0.95"}, tr.Schema())
	cs, _ := Expand([]string{"centroid"}, g)
	holdout := []int{}
	var holdLabels []int
	var cvIdx, cvLabels []int
	for i := 0; i < data.n; i++ {
		if i%5 == 0 {
			holdout, holdLabels = append(holdout, i), append(holdLabels, data.y[i])
		} else {
			cvIdx, cvLabels = append(cvIdx, i), append(cvLabels, data.y[i])
		}
	}
	var events int
	run := func(workers int) *Report {
		rep, err := Run(context.Background(), tr, 4, cvLabels, cvIdx, cs, Options{
			Folds: FoldSpec{K: 5, Stratified: true, Shuffle: true, Seed: 3}, Workers: workers,
			Holdout: holdout, HoldoutLabels: holdLabels,
			Progress: func(e Event) {
				if e.Finished {
					events++
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	a, b := run(1), run(3)
	if events != 30 {
		t.Fatalf("%d finished-job events, expected 2 runs x 3 configs x 5 folds", events)
	}
	for i := range a.Configs {
		x, y := a.Configs[i], b.Configs[i]
		if x.MeanPPM != y.MeanPPM || x.StdPPM != y.StdPPM || x.Rank != y.Rank || !reflect.DeepEqual(x.Confusion, y.Confusion) || x.Soft.AccuracyPPM != y.Soft.AccuracyPPM {
			t.Fatalf("config %d differs between 1 and 3 workers: %+v vs %+v", i, x, y)
		}
		if x.Confusion.K != 4 {
			t.Fatal("no confusion")
		}
		var n int64
		for _, v := range x.Confusion.M {
			n += v
		}
		if n != int64(len(cvIdx)) {
			t.Fatalf("summed confusion covers %d samples, expected every CV sample once (%d)", n, len(cvIdx))
		}
		for _, f := range x.Folds {
			if f.Train+f.Test != len(cvIdx) || f.Params != 32 {
				t.Fatalf("fold %+v", f)
			}
		}
	}
	// strong shrinkage towards the global mean hurts on separated blobs
	r := a.Ranked()
	if r[0].Rank != 1 || r[0].MeanPPM < r[2].MeanPPM || r[2].Config.String() != "centroid shrink=0.95" {
		t.Fatalf("ranking: %s %d, %s %d", r[0].Name, r[0].MeanPPM, r[2].Name, r[2].MeanPPM)
	}
	if a.Configs[a.Best].Rank != 1 || r[0].Mean < 0.5 || r[0].Soft.Accuracy < 0.5 || r[0].PerMParam <= 0 {
		t.Fatalf("best %+v", r[0])
	}
}

func TestVote(t *testing.T) {
	data := newBlobs(200, 4, 3, 4)
	tr := &Centroid{Data: data, Classes: 3}
	ctx := context.Background()
	all := make([]int, 200)
	for i := range all {
		all[i] = i
	}
	m1, _ := tr.Fit(ctx, Config{Model: "centroid"}, all[:100], func(int, int) {})
	m2, _ := tr.Fit(ctx, Config{Model: "centroid"}, all[100:], func(int, int) {})
	p1, _ := Predict(ctx, m1, all, 3)
	// three copies of one model vote like that model
	soft, hard, err := Vote(ctx, []Model{m1, m1, m1}, all, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(soft, p1) || !reflect.DeepEqual(hard, p1) {
		t.Fatal("ensemble of identical models differs from the model")
	}
	// two models: hard-vote ties go to the lower class
	p2, _ := Predict(ctx, m2, all, 3)
	_, hard, _ = Vote(ctx, []Model{m1, m2}, all, 3)
	for i := range all {
		want := min(p1[i], p2[i])
		if hard[i] != want {
			t.Fatalf("sample %d: hard vote %d, expected %d (votes %d, %d)", i, hard[i], want, p1[i], p2[i])
		}
	}
	if _, err := Run(ctx, tr, 3, data.y, nil, []Config{{Model: "mlp:1-2"}}, Options{Folds: FoldSpec{K: 2}}); err == nil || !strings.Contains(err.Error(), "mlp:1-2") {
		t.Fatalf("unknown model: %v", err)
	}
}
