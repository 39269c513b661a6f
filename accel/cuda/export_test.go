//go:build cuda || cudaemu

package cuda

// The in-package test helpers, for the external test package (cuda_test,
// transformer_test.go) too.
var (
	OpenOrSkip = openOrSkip
	MustBuf    = mustBuf
	Download   = download
)
