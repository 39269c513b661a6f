//go:build !amd64 || purego

package canon

// erfFast has no vector loop here: Erf32Slice's portable loop does all.
func erfFast(dst, src []float32) int { return 0 }

// expFast has no vector loop here: Exp32Slice's portable loop does all.
func expFast(dst, src []float32) int { return 0 }
