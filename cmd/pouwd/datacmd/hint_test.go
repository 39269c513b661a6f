package datacmd

import (
	"strings"
	"testing"

	"github.com/pouw/pouwd/ml/cv"
)

func TestConvergenceHint(t *testing.T) {
	labels := []int{0, 0, 0, 0, 1, 1, 1, 2, 2, 2} // most common class: 40%
	rep := func(metric cv.Metric, mean float64) *cv.Report {
		return &cv.Report{Metric: metric, Configs: []cv.ConfigResult{{Mean: mean}}}
	}
	for _, c := range []struct {
		rep  *cv.Report
		hint bool
	}{
		{rep(cv.Accuracy, 0.30), true},  // below always-class-0
		{rep(cv.Accuracy, 0.45), true},  // within a tenth of the way to 1
		{rep(cv.Accuracy, 0.47), false}, // past it
		{rep(cv.Accuracy, 0.95), false},
		{rep(cv.F1Macro, 0.30), false}, // the baseline is for accuracy
	} {
		h := convergenceHint(c.rep, labels)
		if (h != "") != c.hint {
			t.Errorf("%s %.2f: hint %q, expected a hint: %v", c.rep.Metric, c.rep.Configs[0].Mean, h, c.hint)
		}
		if h != "" && !strings.Contains(h, "40.00%") {
			t.Errorf("hint %q does not name the baseline 40.00%%", h)
		}
	}
	if h := convergenceHint(rep(cv.Accuracy, 0.1), nil); h != "" {
		t.Errorf("no labels: hint %q", h)
	}
}
