package cv

import (
	"encoding/json"
	"math"
	"math/big"
	"os"
	"slices"
	"testing"
)

func TestMetricsMatchScikitLearn(t *testing.T) {
	b, err := os.ReadFile("testdata/sklearn_metrics.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct {
			K                     int
			Truth, Pred           []int
			Accuracy              float64
			PrecisionMacro        float64 `json:"precision_macro"`
			RecallMacro           float64 `json:"recall_macro"`
			F1Macro               float64 `json:"f1_macro"`
			Precision, Recall, F1 []float64
			Support, Confusion    []int64
		}
	}
	if err := json.Unmarshal(b, &v); err != nil || len(v.Cases) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }
	for i, c := range v.Cases {
		m, err := Evaluate(c.K, c.Truth, c.Pred)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.Confusion.M, c.Confusion) {
			t.Errorf("case %d: confusion %v, sklearn %v", i, m.Confusion.M, c.Confusion)
		}
		if !close(m.Accuracy, c.Accuracy) || !close(m.PrecisionMacro, c.PrecisionMacro) || !close(m.RecallMacro, c.RecallMacro) || !close(m.F1Macro, c.F1Macro) {
			t.Errorf("case %d: acc/p/r/f1 %v %v %v %v, sklearn %v %v %v %v", i, m.Accuracy, m.PrecisionMacro, m.RecallMacro, m.F1Macro, c.Accuracy, c.PrecisionMacro, c.RecallMacro, c.F1Macro)
		}
		for k := 0; k < c.K; k++ {
			pc := m.PerClass[k]
			if !close(pc.Precision, c.Precision[k]) || !close(pc.Recall, c.Recall[k]) || !close(pc.F1, c.F1[k]) || pc.Support != c.Support[k] {
				t.Errorf("case %d class %d: %+v, sklearn p %v r %v f1 %v support %v", i, k, pc, c.Precision[k], c.Recall[k], c.F1[k], c.Support[k])
			}
			// ppm = floor(1e6 * value), value taken exactly from the matrix
			if d := float64(pc.F1PPM) - math.Floor(1e6*c.F1[k]); math.Abs(d) > 1 {
				t.Errorf("case %d class %d: f1 ppm %d vs %v", i, k, pc.F1PPM, c.F1[k])
			}
		}
		if d := float64(m.F1MacroPPM) - 1e6*c.F1Macro; d > 0 || d <= -1.000001 {
			t.Errorf("case %d: f1 macro ppm %d, sklearn %v", i, m.F1MacroPPM, c.F1Macro)
		}
		if m.AccuracyPPM != int64(math.Floor(1e6*c.Accuracy+1e-9)) {
			t.Errorf("case %d: accuracy ppm %d, sklearn %v", i, m.AccuracyPPM, c.Accuracy)
		}
	}
}

func TestPPMExact(t *testing.T) {
	// 3 classes; precision fractions 1/3, 2/3, 0 (class 2 never predicted
	// but present): macro = 1/3 exactly -> 333333
	truth := []int{0, 1, 1, 2, 2, 2}
	pred := []int{0, 1, 1, 0, 1, 0}
	m, err := Evaluate(3, truth, pred)
	if err != nil {
		t.Fatal(err)
	}
	if m.PerClass[0].PrecisionPPM != 333333 || m.PerClass[1].PrecisionPPM != 666666 || m.PrecisionMacroPPM != 333333 || m.AccuracyPPM != 500000 {
		t.Fatalf("ppm: %+v", m)
	}
	// exact macro differs from averaging floored values: 1/3+1/3+1/3 = 1
	// whereas 333333*3/3 = 333333; f1 fractions here: 2/3, 4/5? check against big.Rat
	want := new(big.Rat).Add(big.NewRat(2, 4), big.NewRat(4, 5))
	want.Mul(want, big.NewRat(1_000_000, 3))
	if got := new(big.Int).Quo(want.Num(), want.Denom()).Int64(); m.F1MacroPPM != got {
		t.Fatalf("f1 macro ppm %d, exact %d", m.F1MacroPPM, got)
	}
	mean, std := MeanStdPPM([]int64{900000, 910000, 920000})
	if mean != 910000 || std != 8164 { // sqrt(2/3*1e8) = 8164.96
		t.Fatalf("mean/std ppm %d %d", mean, std)
	}
	if _, err := Evaluate(2, []int{0, 2}, []int{0, 1}); err == nil {
		t.Fatal("class 2 of 2 accepted")
	}
}
