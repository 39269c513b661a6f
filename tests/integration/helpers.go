package integration

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/pouw/pouwd/ml/data"
)

// MNISTSubset is the first nTrain training and nTest test samples of MNIST
// in canonical form; the test skips when MNIST is not available.
func MNISTSubset(t *testing.T, nTrain, nTest int) *data.Dataset {
	t.Helper()
	dir, err := data.DefaultMNISTDir()
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	full, _, err := data.LoadIDXDir(dir, data.MNISTClassNames)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	sub := &data.Dataset{DType: full.DType, Shape: full.Shape, Classes: full.Classes, ClassNames: full.ClassNames}
	dim := full.Dim()
	take := func(split uint8, n int) {
		for i := 0; i < full.Len() && n > 0; i++ {
			if full.Split[i] != split {
				continue
			}
			sub.U8 = append(sub.U8, full.U8[i*dim:(i+1)*dim]...)
			sub.Labels = append(sub.Labels, full.Labels[i])
			sub.Split = append(sub.Split, split)
			n--
		}
	}
	take(data.Train, nTrain)
	take(data.Test, nTest)
	if err := sub.Validate(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// Logger is the daemons' logger in end-to-end tests: warnings and errors,
// or everything from info up when POUWE2E_VERBOSE is set.
func Logger() *slog.Logger {
	lvl := slog.LevelWarn
	if os.Getenv("POUWE2E_VERBOSE") != "" {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// WaitFor polls ok every half second until it holds; the test fails after
// timeout, naming what it waited for.
func WaitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
