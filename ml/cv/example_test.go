package cv_test

import (
	"fmt"

	"github.com/pouw/pouwd/ml/cv"
)

// The same folds as sklearn.model_selection.StratifiedKFold(3, shuffle=True,
// random_state=0).split(X, y) (checked with scikit-learn 1.2.1).
func ExampleStratifiedKFold() {
	y := []int{0, 0, 0, 1, 1, 1, 1, 1, 1, 0}
	fold, err := cv.StratifiedKFold(y, 3, true, 0)
	if err != nil {
		panic(err)
	}
	for f := 0; f < 3; f++ {
		train, test := cv.Split(fold, f)
		fmt.Println("fold", f, "test", test, "train", train)
	}
	// Output:
	// fold 0 test [2 3 5 9] train [0 1 4 6 7 8]
	// fold 1 test [0 4 8] train [1 2 3 5 6 7 9]
	// fold 2 test [1 6 7] train [0 2 3 4 5 8 9]
}

// Metrics as fixed-point ppm integers for the chain (scikit-learn's macro
// precision, recall and F1 are 0.7222, 0.6667, 0.6556).
func ExampleEvaluate() {
	truth := []int{0, 0, 1, 1, 2, 2}
	pred := []int{0, 1, 1, 1, 2, 0}
	m, _ := cv.Evaluate(3, truth, pred)
	fmt.Println(m.AccuracyPPM, m.PrecisionMacroPPM, m.RecallMacroPPM, m.F1MacroPPM)
	fmt.Println(m.Confusion.M)
	// Output:
	// 666666 722222 666666 655555
	// [1 1 0 0 2 0 1 0 1]
}
