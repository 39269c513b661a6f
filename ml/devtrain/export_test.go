//go:build cuda || cudaemu

package devtrain

// Floats is the float32 count New checks against the device's budget.
func Floats(t *Trainer) int { return t.floats() }
