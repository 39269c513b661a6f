package cv

import (
	"fmt"
	"math"
	"math/big"
)

// Confusion is a K x K confusion matrix: M[t*K+p] counts samples of true
// class t predicted as p.
type Confusion struct {
	K int     `json:"classes"`
	M []int64 `json:"matrix"`
}

// NewConfusion counts predictions. It fails on a length mismatch or a class
// outside 0..k-1.
func NewConfusion(k int, truth, pred []int) (Confusion, error) {
	if len(truth) != len(pred) {
		return Confusion{}, fmt.Errorf("cv: %d true labels but %d predictions, expected equal counts", len(truth), len(pred))
	}
	c := Confusion{K: k, M: make([]int64, k*k)}
	for i := range truth {
		t, p := truth[i], pred[i]
		if t < 0 || t >= k || p < 0 || p >= k {
			return Confusion{}, fmt.Errorf("cv: sample %d has true class %d and prediction %d, expected 0..%d", i, t, p, k-1)
		}
		c.M[t*k+p]++
	}
	return c, nil
}

// Add accumulates another matrix of the same size.
func (c *Confusion) Add(o Confusion) {
	if c.M == nil {
		c.K, c.M = o.K, make([]int64, len(o.M))
	}
	for i, v := range o.M {
		c.M[i] += v
	}
}

// ClassMetrics are one class's scores.
type ClassMetrics struct {
	Precision    float64 `json:"precision"`
	Recall       float64 `json:"recall"`
	F1           float64 `json:"f1"`
	PrecisionPPM int64   `json:"precision_ppm"`
	RecallPPM    int64   `json:"recall_ppm"`
	F1PPM        int64   `json:"f1_ppm"`
	Support      int64   `json:"support"`
}

// Metrics summarise a confusion matrix.
type Metrics struct {
	N                 int64          `json:"n"`
	Accuracy          float64        `json:"accuracy"`
	PrecisionMacro    float64        `json:"precision_macro"`
	RecallMacro       float64        `json:"recall_macro"`
	F1Macro           float64        `json:"f1_macro"`
	AccuracyPPM       int64          `json:"accuracy_ppm"`
	PrecisionMacroPPM int64          `json:"precision_macro_ppm"`
	RecallMacroPPM    int64          `json:"recall_macro_ppm"`
	F1MacroPPM        int64          `json:"f1_macro_ppm"`
	PerClass          []ClassMetrics `json:"per_class"`
	Confusion         Confusion      `json:"confusion"`
}

func ppm(num, den int64) int64 {
	if den == 0 {
		return 0
	}
	// num <= den here, so num*1e6 fits in int64 for den < 9.2e12
	return num * 1_000_000 / den
}

func ratio(num, den int64) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// Compute derives every metric from a confusion matrix.
func Compute(c Confusion) Metrics {
	k := c.K
	m := Metrics{Confusion: c, PerClass: make([]ClassMetrics, k)}
	var correct int64
	type frac struct{ num, den int64 }
	var prec, rec, f1 []frac
	for t := 0; t < k; t++ {
		var tp, fn, fp int64
		tp = c.M[t*k+t]
		for p := 0; p < k; p++ {
			m.N += c.M[t*k+p]
			if p != t {
				fn += c.M[t*k+p]
				fp += c.M[p*k+t]
			}
		}
		correct += tp
		cm := ClassMetrics{
			Precision: ratio(tp, tp+fp), Recall: ratio(tp, tp+fn), F1: ratio(2*tp, 2*tp+fp+fn),
			PrecisionPPM: ppm(tp, tp+fp), RecallPPM: ppm(tp, tp+fn), F1PPM: ppm(2*tp, 2*tp+fp+fn),
			Support: tp + fn,
		}
		m.PerClass[t] = cm
		if tp+fn+fp > 0 { // class present in truth or predictions
			prec = append(prec, frac{tp, tp + fp})
			rec = append(rec, frac{tp, tp + fn})
			f1 = append(f1, frac{2 * tp, 2*tp + fp + fn})
		}
	}
	m.Accuracy, m.AccuracyPPM = ratio(correct, m.N), ppm(correct, m.N)
	macro := func(fs []frac) (float64, int64) {
		if len(fs) == 0 {
			return 0, 0
		}
		sum := new(big.Rat)
		var fsum float64
		for _, f := range fs {
			if f.den != 0 {
				sum.Add(sum, big.NewRat(f.num, f.den))
				fsum += float64(f.num) / float64(f.den)
			}
		}
		sum.Mul(sum, big.NewRat(1_000_000, int64(len(fs))))
		q := new(big.Int).Quo(sum.Num(), sum.Denom()) // non-negative: floor
		return fsum / float64(len(fs)), q.Int64()
	}
	m.PrecisionMacro, m.PrecisionMacroPPM = macro(prec)
	m.RecallMacro, m.RecallMacroPPM = macro(rec)
	m.F1Macro, m.F1MacroPPM = macro(f1)
	return m
}

// Evaluate computes the metrics of predictions against the truth.
func Evaluate(k int, truth, pred []int) (Metrics, error) {
	c, err := NewConfusion(k, truth, pred)
	if err != nil {
		return Metrics{}, err
	}
	return Compute(c), nil
}

// Metric names a scalar metric for ranking.
type Metric string

const (
	Accuracy       Metric = "accuracy"
	F1Macro        Metric = "f1_macro"
	PrecisionMacro Metric = "precision_macro"
	RecallMacro    Metric = "recall_macro"
)

// ParseMetric checks a metric name.
func ParseMetric(s string) (Metric, error) {
	switch Metric(s) {
	case Accuracy, F1Macro, PrecisionMacro, RecallMacro:
		return Metric(s), nil
	}
	return "", fmt.Errorf("cv: metric %q, expected accuracy, f1_macro, precision_macro or recall_macro", s)
}

// Value returns the float and ppm values of one metric.
func (m Metrics) Value(name Metric) (float64, int64) {
	switch name {
	case F1Macro:
		return m.F1Macro, m.F1MacroPPM
	case PrecisionMacro:
		return m.PrecisionMacro, m.PrecisionMacroPPM
	case RecallMacro:
		return m.RecallMacro, m.RecallMacroPPM
	}
	return m.Accuracy, m.AccuracyPPM
}

// MeanStdPPM returns floor(mean) and floor(sqrt(population variance)) of
// ppm integers, exactly.
func MeanStdPPM(xs []int64) (mean, std int64) {
	if len(xs) == 0 {
		return 0, 0
	}
	k := big.NewInt(int64(len(xs)))
	s, s2 := new(big.Int), new(big.Int)
	for _, x := range xs {
		b := big.NewInt(x)
		s.Add(s, b)
		s2.Add(s2, new(big.Int).Mul(b, b))
	}
	mean = new(big.Int).Div(s, k).Int64() // Euclidean division: floor for k > 0
	// var = (k*s2 - s^2) / k^2
	num := new(big.Int).Mul(k, s2)
	num.Sub(num, new(big.Int).Mul(s, s))
	v := new(big.Int).Div(num, new(big.Int).Mul(k, k))
	return mean, new(big.Int).Sqrt(v).Int64()
}

// MeanStd returns the mean and population standard deviation (numpy's
// default ddof=0, as scikit-learn's cv_results_) in float64, summing in
// order.
func MeanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var q float64
	for _, x := range xs {
		d := x - mean
		q += float64(d * d)
	}
	return mean, math.Sqrt(q / float64(len(xs)))
}
